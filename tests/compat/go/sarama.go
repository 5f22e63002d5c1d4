package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// saramaVersion: the protocol version Sarama is told the brokers speak; it picks request
// versions from it (a modern one, as services set it).
var saramaVersion = sarama.V3_6_0_0

type saramaFam struct {
	bs, prefix string
	cfg        *sarama.Config
	client     sarama.Client
	adm        sarama.ClusterAdmin
}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = saramaVersion
	c.ClientID = "samsa-compat"
	c.Net.DialTimeout = 10 * time.Second
	c.Net.ReadTimeout = 15 * time.Second
	c.Admin.Timeout = 15 * time.Second
	c.Metadata.Retry.Max = 1
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Retry.Max = 3 // a leader Kafka has just elected may answer NOT_LEADER_OR_FOLLOWER once
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Timeout = 10 * time.Second
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	return c
}

func newSarama(bs, prefix string) (family, error) {
	cfg := saramaConfig()
	cl, err := sarama.NewClient([]string{bs}, cfg)
	if err != nil {
		return nil, err
	}
	adm, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &saramaFam{bs: bs, prefix: prefix, cfg: cfg, client: cl, adm: adm}, nil
}

func (s *saramaFam) close() { s.adm.Close() }

func (s *saramaFam) name(x string) string { return s.prefix + "-" + x }

func sname(err error) any {
	if err == nil {
		return nil
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		return fmt.Sprintf("KError %d", int16(ke))
	}
	var te *sarama.TopicError
	if errors.As(err, &te) {
		return fmt.Sprintf("KError %d", int16(te.Err))
	}
	var pe *sarama.ProducerError
	if errors.As(err, &pe) {
		return sname(pe.Err)
	}
	return errName(err)
}

func (s *saramaFam) create(topic string, parts int32, rf int16, cfg map[string]string, validate bool) any {
	c := map[string]*string{}
	for k, v := range cfg {
		v := v
		c[k] = &v
	}
	err := s.adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: parts, ReplicationFactor: rf,
		ConfigEntries: c}, validate)
	if err == nil && !validate {
		// Kafka answers CreateTopics before every broker knows the topic: wait for its leaders
		waitFor(15*time.Second, "topic "+topic, func() bool {
			if s.client.RefreshMetadata(topic) != nil {
				time.Sleep(50 * time.Millisecond)
				return false
			}
			ps, err := s.client.Partitions(topic)
			if err != nil || len(ps) != int(parts) {
				time.Sleep(50 * time.Millisecond)
				return false
			}
			for _, p := range ps {
				if _, err := s.client.Leader(topic, p); err != nil {
					time.Sleep(50 * time.Millisecond)
					return false
				}
			}
			return true
		})
	}
	return sname(err)
}

func (s *saramaFam) producer() (sarama.SyncProducer, error) {
	return sarama.NewSyncProducer([]string{s.bs}, saramaConfig())
}

func (s *saramaFam) produce(p sarama.SyncProducer, ms []*sarama.ProducerMessage) []any {
	out := []any{}
	for _, m := range ms {
		_, off, err := p.SendMessage(m)
		if err != nil {
			out = append(out, []any{sname(err), nil})
		} else {
			out = append(out, []any{nil, off})
		}
	}
	return out
}

func (s *saramaFam) run(x string) (map[string]any, error) {
	switch x {
	case "produce_consume":
		return s.produceConsume()
	case "metadata":
		return s.metadata()
	case "topic_configs":
		return s.topicConfigs()
	case "topic_config_names":
		o := obs{}
		all := allConfigs()
		for _, k := range sortedKeys(all) {
			o[k] = s.create(s.name("tcn"), 1, 1, map[string]string{k: all[k]}, true)
		}
		return o, nil
	case "invalid_configs":
		o := obs{}
		for _, kv := range badConfigs {
			o[kv[0]+"="+kv[1]] = s.create(s.name("ic"), 1, 1, map[string]string{kv[0]: kv[1]}, true)
		}
		return o, nil
	case "create_topic_errors":
		t := s.name("cte")
		return obs{"create": s.create(t, 2, 1, nil, false), "again": s.create(t, 2, 1, nil, false),
			"rf3":               s.create(s.name("cte-rf3"), 1, 3, nil, false),
			"partitions0":       s.create(s.name("cte-p0"), 0, 1, nil, false),
			"bad_name":          s.create("bad/name", 1, 1, nil, false),
			"rf3_validate_only": s.create(s.name("cte-rf3v"), 1, 3, nil, true)}, nil
	case "list_offsets_by_time":
		return s.listOffsetsByTime()
	case "delete_records":
		t := s.name("dr")
		o := obs{"create": s.create(t, 1, 1, nil, false)}
		p, err := s.producer()
		if err != nil {
			return nil, err
		}
		defer p.Close()
		ms := []*sarama.ProducerMessage{}
		for i := 0; i < 10; i++ {
			ms = append(ms, &sarama.ProducerMessage{Topic: t, Partition: 0, Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))})
		}
		o["produce"] = s.produce(p, ms)
		o["delete"] = sname(s.adm.DeleteRecords(t, map[int32]int64{0: 4}))
		s.client.RefreshMetadata(t)
		off, err := s.client.GetOffset(t, 0, sarama.OffsetOldest)
		o["oldest"] = []any{off, sname(err)}
		o["beyond_end"] = sname(s.adm.DeleteRecords(t, map[int32]int64{0: 50}))
		return o, nil
	case "too_large":
		t := s.name("tl")
		o := obs{"create": s.create(t, 1, 1, map[string]string{"max.message.bytes": "2000"}, false)}
		p, err := s.producer()
		if err != nil {
			return nil, err
		}
		defer p.Close()
		one := func(n int, c string) []any {
			return s.produce(p, []*sarama.ProducerMessage{{Topic: t, Partition: 0, Value: sarama.StringEncoder(strings.Repeat(c, n))}})
		}
		o["small"] = one(100, "x")
		o["large"] = one(6000, "x")
		o["after"] = one(100, "y")
		return o, nil
	case "group_basic":
		return s.groupBasic()
	case "admin_tools":
		return s.adminTools()
	}
	return nil, unsupported{"not written for Sarama"}
}

func (s *saramaFam) produceConsume() (map[string]any, error) {
	t := s.name("pc")
	o := obs{"create": s.create(t, 3, 1, nil, false)}
	p, err := s.producer()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	ms := []*sarama.ProducerMessage{}
	for i := 0; i < 5; i++ {
		ms = append(ms, &sarama.ProducerMessage{Topic: t, Partition: 0, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value:   sarama.StringEncoder(fmt.Sprintf("v%d", i)),
			Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(fmt.Sprintf("x%d", i))}}})
	}
	o["produce"] = s.produce(p, ms)
	o["produce_null_value"] = s.produce(p, []*sarama.ProducerMessage{{Topic: t, Partition: 1, Key: sarama.StringEncoder("knull")}})
	c, err := sarama.NewConsumer([]string{s.bs}, saramaConfig())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	got := []any{}
	for _, part := range []int32{0, 1} {
		pc, err := c.ConsumePartition(t, part, sarama.OffsetOldest)
		if err != nil {
			got = append(got, map[string]any{"error": sname(err)})
			continue
		}
		want := map[int32]int{0: 5, 1: 1}[part]
		deadline := time.After(30 * time.Second)
	loop:
		for n := 0; n < want; {
			select {
			case m := <-pc.Messages():
				hs := []any{}
				for _, h := range m.Headers {
					hs = append(hs, []any{string(h.Key), string(h.Value)})
				}
				var k, v any
				if m.Key != nil {
					k = string(m.Key)
				}
				if m.Value != nil {
					v = string(m.Value)
				}
				got = append(got, map[string]any{"p": m.Partition, "o": m.Offset, "k": k, "v": v, "h": hs,
					"ts": m.Timestamp.UnixMilli() > 0})
				n++
			case e := <-pc.Errors():
				got = append(got, map[string]any{"error": sname(e.Err)})
				break loop
			case <-deadline:
				break loop
			}
		}
		pc.Close()
	}
	o["consumed"] = got
	return o, nil
}

func (s *saramaFam) metadata() (map[string]any, error) {
	t := s.name("md")
	o := obs{"create": s.create(t, 3, 1, nil, false)}
	bs, ctrl, err := s.adm.DescribeCluster()
	if err != nil {
		return nil, err
	}
	ids := map[int32]bool{}
	for _, b := range bs {
		ids[b.ID()] = true
	}
	o["brokers"] = len(bs)
	o["controller_is_a_broker"] = ids[ctrl]
	tds, err := s.adm.DescribeTopics([]string{t, s.name("md-unknown")})
	if err != nil {
		return nil, err
	}
	for _, td := range tds {
		if td.Name != t {
			o["unknown_topic"] = fmt.Sprintf("KError %d", int16(td.Err))
			continue
		}
		o["topic_error"] = fmt.Sprintf("KError %d", int16(td.Err))
		ps := []any{}
		for _, p := range td.Partitions {
			ps = append(ps, []any{p.ID, ids[p.Leader], len(p.Replicas), len(p.Isr), fmt.Sprintf("KError %d", int16(p.Err))})
		}
		sort.Slice(ps, func(i, j int) bool { return fmt.Sprint(ps[i]) < fmt.Sprint(ps[j]) })
		o["partitions"] = ps
	}
	return o, nil
}

func (s *saramaFam) topicConfigs() (map[string]any, error) {
	t := s.name("tcfg")
	o := obs{"create": s.create(t, 1, 1, map[string]string{"retention.ms": "3600000"}, false)}
	es, err := s.adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: t})
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	for _, e := range es {
		m[e.Name] = []any{e.Value, e.Source.String(), e.ReadOnly, e.Sensitive}
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

func (s *saramaFam) listOffsetsByTime() (map[string]any, error) {
	t := s.name("lot")
	o := obs{"create": s.create(t, 1, 1, nil, false)}
	base := time.Now().Add(-time.Minute).UnixMilli()
	p, err := s.producer()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	ms := []*sarama.ProducerMessage{}
	for i := 0; i < 3; i++ {
		ms = append(ms, &sarama.ProducerMessage{Topic: t, Partition: 0, Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)),
			Timestamp: time.UnixMilli(base + 1000*int64(i))})
	}
	o["produce"] = s.produce(p, ms)
	s.client.RefreshMetadata(t)
	res := obs{}
	for _, c := range []struct {
		l  string
		ts int64
	}{{"before", base - 1}, {"at0", base}, {"mid01", base + 500}, {"at2", base + 2000}, {"after", base + 5000},
		{"oldest", sarama.OffsetOldest}, {"newest", sarama.OffsetNewest}} {
		off, err := s.client.GetOffset(t, 0, c.ts)
		res[c.l] = []any{off, sname(err)}
	}
	o["get_offset"] = res
	return o, nil
}

type saramaHandler struct {
	mu  sync.Mutex
	own map[int32]bool
}

func (h *saramaHandler) Setup(sess sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.own = map[int32]bool{}
	for _, ps := range sess.Claims() {
		for _, p := range ps {
			h.own[p] = true
		}
	}
	return nil
}

func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.own = map[int32]bool{}
	return nil
}

func (h *saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			sess.MarkMessage(m, "")
		case <-sess.Context().Done():
			return nil
		}
	}
}

func (h *saramaHandler) owned() []int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ps := []int32{}
	for p := range h.own {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func (s *saramaFam) groupBasic() (map[string]any, error) {
	t, g := s.name("gb"), s.name("gb-group")
	o := obs{"create": s.create(t, 4, 1, nil, false)}
	hs := []*saramaHandler{}
	errs := []string{}
	var emu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i := 1; i <= 2; i++ {
		cfg := saramaConfig()
		cfg.ClientID = fmt.Sprintf("c%d", i)
		cg, err := sarama.NewConsumerGroup([]string{s.bs}, g, cfg)
		if err != nil {
			return nil, err
		}
		h := &saramaHandler{own: map[int32]bool{}}
		hs = append(hs, h)
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer cg.Close()
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{t}, h); err != nil {
					emu.Lock()
					errs = append(errs, errName(err).(string))
					emu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for {
				select {
				case e, ok := <-cg.Errors():
					if !ok {
						return
					}
					emu.Lock()
					errs = append(errs, errName(e).(string))
					emu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	err := waitFor(60*time.Second, "4 partitions assigned", func() bool {
		time.Sleep(50 * time.Millisecond)
		seen := map[int32]bool{}
		n := 0
		for _, h := range hs {
			o := h.owned()
			if len(o) == 0 {
				return false
			}
			for _, p := range o {
				seen[p] = true
			}
			n += len(o)
		}
		return n == 4 && len(seen) == 4
	})
	emu.Lock()
	if len(errs) > 0 {
		o["errors"] = append([]string{}, errs[0])
	}
	emu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%v (consumer group errors: %v)", err, o["errors"])
	}
	a := []any{hs[0].owned(), hs[1].owned()}
	sort.Slice(a, func(i, j int) bool { return fmt.Sprint(a[i]) < fmt.Sprint(a[j]) })
	o["assignment"] = a
	return o, nil
}

// adminTools: the ClusterAdmin calls a tool makes on one shared connection: ListAcls
// (DescribeAcls) first, which closed samsa-broker's connection when it did not know the API,
// then calls that must still succeed on the same admin; log dirs, reassignments, incremental
// config changes, groups.
func (s *saramaFam) adminTools() (map[string]any, error) {
	t := s.name("at")
	o := obs{"create": s.create(t, 2, 1, nil, false)}
	anyACL := sarama.AclFilter{Version: 1, ResourceType: sarama.AclResourceAny,
		ResourcePatternTypeFilter: sarama.AclPatternAny, Operation: sarama.AclOperationAny,
		PermissionType: sarama.AclPermissionAny}
	acls, err := s.adm.ListAcls(anyACL)
	o["list_acls"] = []any{len(acls), sname(err)}
	topics, err := s.adm.ListTopics()
	_, listed := topics[t]
	o["list_topics_after_acls"] = []any{listed, sname(err)}
	name := t
	err = s.adm.CreateACL(sarama.Resource{ResourceType: sarama.AclResourceTopic, ResourceName: t,
		ResourcePatternType: sarama.AclPatternLiteral},
		sarama.Acl{Principal: "User:alice", Host: "*", Operation: sarama.AclOperationRead,
			PermissionType: sarama.AclPermissionAllow})
	o["create_acl"] = sname(err)
	_, err = s.adm.DeleteACL(sarama.AclFilter{Version: 1, ResourceType: sarama.AclResourceTopic,
		ResourceName: &name, ResourcePatternTypeFilter: sarama.AclPatternLiteral,
		Operation: sarama.AclOperationAny, PermissionType: sarama.AclPermissionAny}, false)
	o["delete_acl"] = sname(err)
	brokers, ctl, err := s.adm.DescribeCluster()
	o["describe_cluster"] = []any{len(brokers), len(brokers) == 1 && brokers[0].ID() == ctl, sname(err)}

	p, err := s.producer()
	if err != nil {
		return nil, err
	}
	o["produce"] = s.produce(p, []*sarama.ProducerMessage{{Topic: t, Partition: 1, Value: sarama.StringEncoder("v")}})
	p.Close()
	if len(brokers) == 1 {
		dirs, err := s.adm.DescribeLogDirs([]int32{brokers[0].ID()})
		parts := map[string]any{}
		for _, ds := range dirs {
			for _, d := range ds {
				for _, tp := range d.Topics {
					if tp.Topic != t {
						continue
					}
					for _, pp := range tp.Partitions {
						parts[fmt.Sprint(pp.PartitionID)] = []any{pp.Size > 0, pp.OffsetLag, pp.IsTemporary}
					}
				}
			}
		}
		o["log_dirs"] = []any{parts, sname(err)}
	}
	st, err := s.adm.ListPartitionReassignments(t, []int32{0, 1})
	o["reassignments"] = []any{len(st[t]), sname(err)}
	v, bad := "3600000", "abc"
	o["iac_set"] = sname(s.adm.IncrementalAlterConfig(sarama.TopicResource, t,
		map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}}, false))
	o["iac_invalid"] = sname(s.adm.IncrementalAlterConfig(sarama.TopicResource, t,
		map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &bad}}, false))
	entries, err := s.adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: t, ConfigNames: []string{"retention.ms"}})
	vals := []any{}
	for _, e := range entries {
		vals = append(vals, []any{e.Name, e.Value, e.Source.String()})
	}
	o["retention_after"] = []any{vals, sname(err)}
	groups, err := s.adm.ListConsumerGroups()
	o["list_groups"] = []any{groups != nil, sname(err)}
	return o, nil
}
