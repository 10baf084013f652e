// bench-clientv3: the etcd driver benchmark's workload through etcd's own Go
// client (go.etcd.io/etcd/clientv3, gRPC), for side-by-side ratios.
//
// Usage: bench-clientv3 -endpoints 127.0.0.1:2379 -op put|get|txn|watch -callers N -ops M
// Prints one line: "clientv3 <op> <callers> <total ops> <p50 us> <p99 us> <ops/s>".
// For -op watch, -callers is the number of watches open on the client (one
// key each) and -ops the number of puts, each timed until its key's watch
// sees the event (clientv3 multiplexes all of them on one gRPC stream).
// Built offline in GOPATH mode from Debian's golang-etcd-server-dev (run.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated host:port list")
	op := flag.String("op", "put", "put, get or txn")
	callers := flag.Int("callers", 1, "concurrent callers")
	ops := flag.Int("ops", 1000, "operations per caller")
	prefix := flag.String("prefix", "bench/clientv3", "key prefix")
	flag.Parse()

	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*endpoints, ","),
		DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer cli.Close()
	value := strings.Repeat("v", 64)
	ctx := context.Background()
	if *op == "watch" {
		benchWatch(cli, ctx, *prefix, value, *callers, *ops)
		return
	}
	// Every caller's keys exist before the timed part (get and txn read them).
	for c := 0; c < *callers; c++ {
		if _, err := cli.Put(ctx, fmt.Sprintf("%s/%d/0", *prefix, c), value); err != nil {
			fmt.Fprintln(os.Stderr, "setup put:", err)
			os.Exit(1)
		}
	}
	lat := make([][]time.Duration, *callers)
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	start := time.Now()
	for c := 0; c < *callers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			lat[c] = make([]time.Duration, 0, *ops)
			for i := 0; i < *ops; i++ {
				key := fmt.Sprintf("%s/%d/%d", *prefix, c, i%100)
				readKey := fmt.Sprintf("%s/%d/0", *prefix, c)
				t0 := time.Now()
				var err error
				switch *op {
				case "put":
					_, err = cli.Put(ctx, key, value)
				case "get":
					_, err = cli.Get(ctx, readKey)
				case "txn":
					_, err = cli.Txn(ctx).
						If(clientv3.Compare(clientv3.CreateRevision(readKey), ">", 0)).
						Then(clientv3.OpPut(readKey, value)).
						Else(clientv3.OpGet(readKey)).Commit()
				}
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed != nil {
		fmt.Fprintln(os.Stderr, *op, "failed:", failed)
		os.Exit(1)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	report(*op, *callers, all, elapsed)
}

func report(op string, callers int, all []time.Duration, elapsed time.Duration) {
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p := func(q float64) int64 { return all[int(q*float64(len(all)-1))].Microseconds() }
	fmt.Printf("clientv3 %s %d %d %d %d %.0f\n", op, callers, len(all), p(0.50), p(0.99),
		float64(len(all))/elapsed.Seconds())
}

// benchWatch: n watches, one key each; ops puts spread over the keys, each
// timed until the event arrives on its key's watch channel.
func benchWatch(cli *clientv3.Client, ctx context.Context, prefix, value string, n, ops int) {
	rev := int64(1)
	if r, err := cli.Get(ctx, prefix+"/w/none"); err == nil {
		rev = r.Header.Revision + 1
	} else {
		fmt.Fprintln(os.Stderr, "get:", err)
		os.Exit(1)
	}
	keys := make([]string, n)
	chans := make([]clientv3.WatchChan, n)
	for i := 0; i < n; i++ {
		keys[i] = fmt.Sprintf("%s/w/%d", prefix, i)
		chans[i] = cli.Watch(ctx, keys[i], clientv3.WithRev(rev))
	}
	lat := make([]time.Duration, 0, ops)
	start := time.Now()
	for i := 0; i < ops; i++ {
		k := int((uint32(i) * 2654435761) % uint32(n))
		t0 := time.Now()
		if _, err := cli.Put(ctx, keys[k], value); err != nil {
			fmt.Fprintln(os.Stderr, "put:", err)
			os.Exit(1)
		}
		select {
		case wr := <-chans[k]:
			if wr.Err() != nil || len(wr.Events) == 0 {
				fmt.Fprintln(os.Stderr, "watch:", wr.Err())
				os.Exit(1)
			}
		case <-time.After(10 * time.Second):
			fmt.Fprintln(os.Stderr, "watch: no event in 10 s")
			os.Exit(1)
		}
		lat = append(lat, time.Since(t0))
	}
	report("watch", n, lat, time.Since(start))
}
