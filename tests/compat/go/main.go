// The differential suite's runner for the Go client families (tests/compat/driver.py):
// franz-go (kgo + kadm) and Sarama, with the same scenario names and meaning as
// tests/compat/runners/py_runner.py. Prints one JSON line per scenario of what the client
// observed, normalized (no broker ids, ports, member ids or clock values).
//
//	compat-runner --client franz-go|sarama --bootstrap H:P --prefix P [--scenarios a,b,...]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

var legacyConfigs = map[string]string{"message.format.version": "2.8-IV1", "message.downconversion.enable": "false",
	"message.timestamp.difference.max.ms": "60000"}
var newConfigs = map[string]string{"compression.gzip.level": "5", "compression.zstd.level": "-5",
	"local.retention.ms": "-1", "remote.log.copy.disable": "true", "follower.replication.throttled.replicas": "0:1",
	"segment.index.bytes": "4096", "min.cleanable.dirty.ratio": "0.25"}
var badConfigs = [][2]string{{"flush.messages", "0"}, {"preallocate", "yes"}, {"compression.gzip.level", "0"},
	{"compression.zstd.level", "23"}, {"min.cleanable.dirty.ratio", "1.5"}, {"retention.ms", "-2"},
	{"segment.ms", "0"}, {"message.timestamp.type", "Foo"}, {"cleanup.policy", "bogus"},
	{"compression.type", "bogus"}, {"remote.storage.enable", "true"}, {"no.such.config", "1"},
	{"retention.ms", "abc"}, {"segment.bytes", "1000"}, {"min.insync.replicas", "2"},
	{"cleanup.policy", "compact"}, {"compression.type", "gzip"}}
var described = []string{"cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms",
	"flush.messages", "flush.ms", "index.interval.bytes", "max.compaction.lag.ms", "max.message.bytes",
	"message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
	"min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate", "retention.bytes",
	"retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
	"unclean.leader.election.enable", "compression.gzip.level", "compression.lz4.level", "compression.zstd.level",
	"local.retention.bytes", "local.retention.ms", "remote.storage.enable"}

var names = []string{"produce_consume", "metadata", "topic_configs", "topic_config_names", "invalid_configs",
	"create_topic_errors", "list_offsets_by_time", "delete_records", "too_large", "group_basic",
	"static_leader_restart", "admin_tools"}

// one client family's scenarios
type family interface {
	run(name string) (map[string]any, error)
	close()
}

type unsupported struct{ why string }

func (u unsupported) Error() string { return u.why }

type obs = map[string]any

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func allConfigs() map[string]string {
	m := map[string]string{}
	for k, v := range legacyConfigs {
		m[k] = v
	}
	for k, v := range newConfigs {
		m[k] = v
	}
	return m
}

// errName: an error as a stable name (nil: nil)
func errName(err error) any {
	if err == nil {
		return nil
	}
	s := err.Error()
	if i := strings.Index(s, ":"); i > 0 && i < 60 {
		s = s[:i]
	}
	return s
}

func waitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
	}
	return nil
}

func main() {
	client := flag.String("client", "", "franz-go or sarama")
	bootstrap := flag.String("bootstrap", "", "host:port")
	prefix := flag.String("prefix", "", "topic and group name prefix")
	scen := flag.String("scenarios", strings.Join(names, ","), "comma-separated")
	flag.Parse()
	var f family
	var err error
	switch *client {
	case "franz-go":
		f, err = newFranz(*bootstrap, *prefix)
	case "sarama":
		f, err = newSarama(*bootstrap, *prefix)
	default:
		fmt.Fprintln(os.Stderr, "--client franz-go|sarama")
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, s := range strings.Split(*scen, ",") {
		t0 := time.Now()
		out := map[string]any{"scenario": s}
		if err != nil {
			out["error"] = "client setup: " + err.Error()
		} else {
			o, e := runOne(f, s)
			switch e := e.(type) {
			case nil:
				out["obs"] = o
			case unsupported:
				out["unsupported"] = e.why
			default:
				out["error"] = e.Error()
			}
		}
		out["seconds"] = float64(time.Since(t0).Milliseconds()) / 1000
		enc.Encode(out)
	}
	if f != nil {
		f.close()
	}
}

func runOne(f family, s string) (o map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_ = ctx
	return f.run(s)
}
