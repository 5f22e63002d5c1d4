package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type franz struct {
	bs, prefix string
	cl         *kgo.Client
	adm        *kadm.Client
}

func newFranz(bs, prefix string) (family, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.RequestTimeoutOverhead(10*time.Second))
	if err != nil {
		return nil, err
	}
	return &franz{bs: bs, prefix: prefix, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (f *franz) close() { f.cl.Close() }

func (f *franz) name(s string) string { return f.prefix + "-" + s }

func ctx30() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

func kname(err error) any {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return errName(err)
}

func (f *franz) create(topic string, parts int32, rf int16, cfg map[string]string, validate bool) any {
	ctx, cancel := ctx30()
	defer cancel()
	c := map[string]*string{}
	for k, v := range cfg {
		v := v
		c[k] = &v
	}
	var rs kadm.CreateTopicResponses
	var err error
	if validate {
		rs, err = f.adm.ValidateCreateTopics(ctx, parts, rf, c, topic)
	} else {
		rs, err = f.adm.CreateTopics(ctx, parts, rf, c, topic)
	}
	if err != nil {
		return kname(err)
	}
	if rs[topic].Err == nil && !validate {
		f.awaitTopic(topic, parts)
	}
	return kname(rs[topic].Err)
}

// awaitTopic: Kafka answers CreateTopics before every broker knows the topic;
// wait until Metadata shows each partition with a leader, as a client would retry
func (f *franz) awaitTopic(topic string, parts int32) {
	waitFor(15*time.Second, "topic "+topic, func() bool {
		ctx, cancel := ctx30()
		defer cancel()
		md, err := f.adm.Metadata(ctx, topic)
		if err != nil || md.Topics[topic].Err != nil || len(md.Topics[topic].Partitions) != int(parts) {
			time.Sleep(50 * time.Millisecond)
			return false
		}
		for _, p := range md.Topics[topic].Partitions {
			if p.Leader < 0 || p.Err != nil {
				time.Sleep(50 * time.Millisecond)
				return false
			}
		}
		return true
	})
}

func (f *franz) producer(extra ...kgo.Opt) (*kgo.Client, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(f.bs), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(10 * time.Second),
		kgo.ProducerBatchCompression(kgo.NoCompression())}
	return kgo.NewClient(append(opts, extra...)...)
}

func (f *franz) produce(p *kgo.Client, rs []*kgo.Record) []any {
	out := []any{}
	for _, r := range rs {
		ctx, cancel := ctx30()
		res := p.ProduceSync(ctx, r)
		cancel()
		rec, err := res.First()
		if err != nil {
			out = append(out, []any{kname(err), nil})
		} else {
			out = append(out, []any{nil, rec.Offset})
		}
	}
	return out
}

func (f *franz) read(c *kgo.Client, n int, timeout time.Duration) []any {
	got := []any{}
	deadline := time.Now().Add(timeout)
	for len(got) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := c.PollFetches(ctx)
		cancel()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				got = append(got, map[string]any{"error": kname(err)})
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			hs := []any{}
			for _, h := range r.Headers {
				hs = append(hs, []any{h.Key, string(h.Value)})
			}
			var k, v any
			if r.Key != nil {
				k = string(r.Key)
			}
			if r.Value != nil {
				v = string(r.Value)
			}
			got = append(got, map[string]any{"p": r.Partition, "o": r.Offset, "k": k, "v": v, "h": hs,
				"ts": !r.Timestamp.IsZero() && r.Timestamp.UnixMilli() > 0})
		})
	}
	sort.Slice(got, func(i, j int) bool { return fmt.Sprint(got[i]) < fmt.Sprint(got[j]) })
	return got
}

func (f *franz) run(s string) (map[string]any, error) {
	switch s {
	case "produce_consume":
		return f.produceConsume()
	case "metadata":
		return f.metadata()
	case "topic_configs":
		return f.topicConfigs()
	case "topic_config_names":
		o := obs{}
		all := allConfigs()
		for _, k := range sortedKeys(all) {
			o[k] = f.create(f.name("tcn"), 1, 1, map[string]string{k: all[k]}, true)
		}
		return o, nil
	case "invalid_configs":
		o := obs{}
		for _, kv := range badConfigs {
			o[kv[0]+"="+kv[1]] = f.create(f.name("ic"), 1, 1, map[string]string{kv[0]: kv[1]}, true)
		}
		return o, nil
	case "create_topic_errors":
		t := f.name("cte")
		return obs{"create": f.create(t, 2, 1, nil, false), "again": f.create(t, 2, 1, nil, false),
			"rf3":               f.create(f.name("cte-rf3"), 1, 3, nil, false),
			"partitions0":       f.create(f.name("cte-p0"), 0, 1, nil, false),
			"bad_name":          f.create("bad/name", 1, 1, nil, false),
			"rf3_validate_only": f.create(f.name("cte-rf3v"), 1, 3, nil, true)}, nil
	case "list_offsets_by_time":
		return f.listOffsetsByTime()
	case "delete_records":
		return f.deleteRecords()
	case "too_large":
		t := f.name("tl")
		o := obs{"create": f.create(t, 1, 1, map[string]string{"max.message.bytes": "2000"}, false)}
		p, err := f.producer()
		if err != nil {
			return nil, err
		}
		defer p.Close()
		o["small"] = f.produce(p, []*kgo.Record{{Topic: t, Partition: 0, Value: []byte(strings.Repeat("x", 100))}})
		o["large"] = f.produce(p, []*kgo.Record{{Topic: t, Partition: 0, Value: []byte(strings.Repeat("x", 6000))}})
		o["after"] = f.produce(p, []*kgo.Record{{Topic: t, Partition: 0, Value: []byte(strings.Repeat("y", 100))}})
		return o, nil
	case "group_basic":
		return f.groupBasic()
	case "static_leader_restart":
		return f.staticLeaderRestart()
	}
	return nil, unsupported{"not written for franz-go"}
}

func (f *franz) produceConsume() (map[string]any, error) {
	t := f.name("pc")
	o := obs{"create": f.create(t, 3, 1, nil, false)}
	p, err := f.producer()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rs := []*kgo.Record{}
	for i := 0; i < 5; i++ {
		rs = append(rs, &kgo.Record{Topic: t, Partition: 0, Key: []byte(fmt.Sprintf("k%d", i)),
			Value: []byte(fmt.Sprintf("v%d", i)), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprintf("x%d", i))}}})
	}
	o["produce"] = f.produce(p, rs)
	o["produce_null_value"] = f.produce(p, []*kgo.Record{{Topic: t, Partition: 1, Key: []byte("knull")}})
	c, err := kgo.NewClient(kgo.SeedBrokers(f.bs), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		t: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	o["consumed"] = f.read(c, 6, 30*time.Second)
	ctx, cancel := ctx30()
	defer cancel()
	ends, err := f.adm.ListEndOffsets(ctx, t)
	if err != nil {
		return nil, err
	}
	e := []any{}
	ends.Each(func(l kadm.ListedOffset) { e = append(e, []any{l.Partition, l.Offset, kname(l.Err)}) })
	sort.Slice(e, func(i, j int) bool { return fmt.Sprint(e[i]) < fmt.Sprint(e[j]) })
	o["end_offsets"] = e
	return o, nil
}

func (f *franz) metadata() (map[string]any, error) {
	t := f.name("md")
	o := obs{"create": f.create(t, 3, 1, nil, false)}
	ctx, cancel := ctx30()
	defer cancel()
	md, err := f.adm.Metadata(ctx, t)
	if err != nil {
		return nil, err
	}
	ids := map[int32]bool{}
	for _, b := range md.Brokers {
		ids[b.NodeID] = true
	}
	o["brokers"] = len(md.Brokers)
	o["controller_is_a_broker"] = ids[md.Controller]
	o["cluster_id_set"] = md.Cluster != ""
	td := md.Topics[t]
	o["topic_error"] = kname(td.Err)
	o["topic_id_set"] = td.ID != [16]byte{}
	ps := []any{}
	for _, p := range td.Partitions.Sorted() {
		ps = append(ps, []any{p.Partition, ids[p.Leader], len(p.Replicas), len(p.ISR), kname(p.Err)})
	}
	o["partitions"] = ps
	um, err := f.adm.Metadata(ctx, f.name("md-unknown"))
	if err != nil {
		o["unknown_topic"] = kname(err)
	} else {
		o["unknown_topic"] = kname(um.Topics[f.name("md-unknown")].Err)
	}
	return o, nil
}

func (f *franz) topicConfigs() (map[string]any, error) {
	t := f.name("tcfg")
	o := obs{"create": f.create(t, 1, 1, map[string]string{"retention.ms": "3600000"}, false)}
	ctx, cancel := ctx30()
	defer cancel()
	rcs, err := f.adm.DescribeTopicConfigs(ctx, t)
	if err != nil {
		return nil, err
	}
	rc, err := rcs.On(t, nil)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	for _, c := range rc.Configs {
		m[c.Key] = []any{c.MaybeValue(), c.Source.String(), c.Sensitive}
	}
	d := obs{}
	missing := []string{}
	for _, k := range described {
		if v, ok := m[k]; ok {
			d[k] = v
		} else {
			missing = append(missing, k)
		}
	}
	o["described"] = d
	o["missing"] = missing
	return o, nil
}

func (f *franz) listOffsetsByTime() (map[string]any, error) {
	t := f.name("lot")
	o := obs{"create": f.create(t, 1, 1, nil, false)}
	base := time.Now().Add(-time.Minute).UnixMilli()
	p, err := f.producer()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rs := []*kgo.Record{}
	for i := 0; i < 3; i++ {
		rs = append(rs, &kgo.Record{Topic: t, Partition: 0, Key: []byte("k"), Value: []byte(fmt.Sprintf("v%d", i)),
			Timestamp: time.UnixMilli(base + 1000*int64(i))})
	}
	o["produce"] = f.produce(p, rs)
	res := obs{}
	for _, c := range []struct {
		l  string
		ts int64
	}{{"before", base - 1}, {"at0", base}, {"mid01", base + 500}, {"at2", base + 2000}, {"after", base + 5000}} {
		ctx, cancel := ctx30()
		lo, err := f.adm.ListOffsetsAfterMilli(ctx, c.ts, t)
		cancel()
		if err != nil {
			res[c.l] = kname(err)
			continue
		}
		l, _ := lo.Lookup(t, 0)
		res[c.l] = []any{l.Offset, kname(l.Err)}
	}
	o["offsets_after_milli"] = res
	return o, nil
}

func (f *franz) deleteRecords() (map[string]any, error) {
	t := f.name("dr")
	o := obs{"create": f.create(t, 1, 1, nil, false)}
	p, err := f.producer()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rs := []*kgo.Record{}
	for i := 0; i < 10; i++ {
		rs = append(rs, &kgo.Record{Topic: t, Partition: 0, Value: []byte(fmt.Sprintf("v%d", i))})
	}
	o["produce"] = f.produce(p, rs)
	ctx, cancel := ctx30()
	defer cancel()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: t, Partition: 0, At: 4})
	dr, err := f.adm.DeleteRecords(ctx, offs)
	if err != nil {
		return nil, err
	}
	d, _ := dr.Lookup(t, 0)
	o["low_watermark"] = []any{d.LowWatermark, kname(d.Err)}
	st, err := f.adm.ListStartOffsets(ctx, t)
	if err != nil {
		return nil, err
	}
	l, _ := st.Lookup(t, 0)
	o["start_offset"] = l.Offset
	offs = kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: t, Partition: 0, At: 50})
	dr, err = f.adm.DeleteRecords(ctx, offs)
	if err != nil {
		o["beyond_end"] = kname(err)
	} else {
		d, _ = dr.Lookup(t, 0)
		o["beyond_end"] = kname(d.Err)
	}
	return o, nil
}

// a group member that records what it is assigned
type franzMember struct {
	cl  *kgo.Client
	mu  sync.Mutex
	own map[int32]bool
	ev  []string
}

func (f *franz) member(g, t, clientID string, extra ...kgo.Opt) (*franzMember, error) {
	m := &franzMember{own: map[int32]bool{}}
	opts := []kgo.Opt{kgo.SeedBrokers(f.bs), kgo.ConsumerGroup(g), kgo.ConsumeTopics(t), kgo.ClientID(clientID),
		kgo.Balancers(kgo.RangeBalancer()), kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range a[t] {
				m.own[p] = true
			}
			m.ev = append(m.ev, fmt.Sprintf("assign %d", len(a[t])))
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range r[t] {
				delete(m.own, p)
			}
			m.ev = append(m.ev, fmt.Sprintf("revoke %d", len(r[t])))
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range r[t] {
				delete(m.own, p)
			}
			m.ev = append(m.ev, fmt.Sprintf("lost %d", len(r[t])))
		})}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	return m, nil
}

func (m *franzMember) owned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := []int32{}
	for p := range m.own {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func settleFranz(ms []*franzMember, want int) error {
	return waitFor(60*time.Second, fmt.Sprintf("%d partitions assigned", want), func() bool {
		n := 0
		seen := map[int32]bool{}
		for _, m := range ms {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			m.cl.PollFetches(ctx)
			cancel()
			o := m.owned()
			if len(o) == 0 {
				return false
			}
			for _, p := range o {
				seen[p] = true
			}
			n += len(o)
		}
		return n == want && len(seen) == want
	})
}

func (f *franz) groupBasic() (map[string]any, error) {
	t, g := f.name("gb"), f.name("gb-group")
	o := obs{"create": f.create(t, 4, 1, nil, false)}
	ms := []*franzMember{}
	for i := 1; i <= 2; i++ {
		m, err := f.member(g, t, fmt.Sprintf("c%d", i))
		if err != nil {
			return nil, err
		}
		defer m.cl.Close()
		ms = append(ms, m)
	}
	if err := settleFranz(ms, 4); err != nil {
		return nil, err
	}
	o["assignment"] = []any{ms[0].owned(), ms[1].owned()}
	ctx, cancel := ctx30()
	defer cancel()
	dg, err := f.adm.DescribeGroups(ctx, g)
	if err != nil {
		return nil, err
	}
	d := dg[g]
	o["state"] = d.State
	o["protocol"] = d.Protocol
	o["describe_error"] = kname(d.Err)
	mem := []any{}
	for _, m := range d.Members {
		mem = append(mem, []any{m.ClientID, strings.HasPrefix(m.MemberID, m.ClientID+"-")})
	}
	sort.Slice(mem, func(i, j int) bool { return fmt.Sprint(mem[i]) < fmt.Sprint(mem[j]) })
	o["members"] = mem
	offs := kadm.Offsets{}
	for p := int32(0); p < 4; p++ {
		offs.Add(kadm.Offset{Topic: t, Partition: p, At: 1})
	}
	cr, err := f.adm.CommitOffsets(ctx, g, offs)
	o["admin_commit_while_members"] = kname(err)
	if err == nil {
		o["admin_commit_while_members"] = kname(cr.Error())
	}
	return o, nil
}

func (f *franz) staticLeaderRestart() (map[string]any, error) {
	t, g := f.name("slr"), f.name("slr-group")
	o := obs{"create": f.create(t, 4, 1, nil, false)}
	c1, err := f.member(g, t, "c1", kgo.InstanceID("i1"), kgo.SessionTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	if err := settleFranz([]*franzMember{c1}, 4); err != nil {
		return nil, err
	}
	c2, err := f.member(g, t, "c2", kgo.InstanceID("i2"), kgo.SessionTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	defer c2.cl.Close()
	if err := settleFranz([]*franzMember{c1, c2}, 4); err != nil {
		return nil, err
	}
	o["before"] = []any{c1.owned(), c2.owned()}
	c2.mu.Lock()
	c2.ev = nil
	c2.mu.Unlock()
	c1.cl.Close() // a static member: franz-go leaves the group on close only if asked to
	c1, err = f.member(g, t, "c1", kgo.InstanceID("i1"), kgo.SessionTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	defer c1.cl.Close()
	if err := settleFranz([]*franzMember{c1, c2}, 4); err != nil {
		return nil, err
	}
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		c1.cl.PollFetches(ctx)
		c2.cl.PollFetches(ctx)
		cancel()
	}
	o["after"] = []any{c1.owned(), c2.owned()}
	c2.mu.Lock()
	o["c2_events_after_restart"] = append([]string{}, c2.ev...)
	c2.mu.Unlock()
	return o, nil
}
