// bench-clientv3: the etcd driver benchmark's workload through etcd's own Go
// client (go.etcd.io/etcd/clientv3, gRPC), for side-by-side ratios.
//
// Usage: bench-clientv3 -endpoints 127.0.0.1:2379 -op put|get|txn -callers N -ops M
// Prints one line: "clientv3 <op> <callers> <total ops> <p50 us> <p99 us> <ops/s>".
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
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p := func(q float64) int64 { return all[int(q*float64(len(all)-1))].Microseconds() }
	fmt.Printf("clientv3 %s %d %d %d %d %.0f\n", *op, *callers, len(all), p(0.50), p(0.99),
		float64(len(all))/elapsed.Seconds())
}
