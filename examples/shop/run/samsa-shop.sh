#!/bin/sh
# samsa-shop: the main job. Starts samsa-broker, the four shop topics, the six
# shop services and one samsa-relay per outbox database (docs/shop.md), with
# all data under one folder, prints where each listens, and runs until
# SIGINT/SIGTERM (Ctrl-C), then stops everything in reverse order.
#
# A child that dies is reported loudly with the tail of its log and started
# again on the same port and data: every service is crash-safe by design
# (the outbox and the inbox live in its database, and the relay publishes
# what is committed), so a restart loses nothing. A child that dies 3 times
# within 60 s is not a transient failure: then everything is stopped and
# samsa-shop exits 1.
#
# POSIX sh; installed next to the shop binaries (build/examples/shop/), it
# finds samsa-broker, samsa-relay and samsa in ../../src/.
set -u

prog=samsa-shop
here=$(cd "$(dirname "$0")" && pwd)
version=0.1.0

usage() {
    cat <<EOF
usage: samsa-shop [--data DIR] [--free-ports | --port-offset N] [--host ADDR]

Starts the reference shop (docs/shop.md): samsa-broker, the topics, shop-orders,
shop-stock, shop-sink, shop-receiver, shop-reservations, shop-rooms and three
samsa-relays, with every database and log under DIR; Ctrl-C stops them all.

  --data DIR         where the data and logs go [./data]
  --free-ports       every process on a free port (port 0), learned from its
                     ready line: runs beside another main job
  --port-offset N    add N to every default port (9092, 8081..8085, 8089, 9464..9466)
  --host ADDR        the address everything listens on [127.0.0.1]
  --help, --version

Default ports: broker 9092; orders 8081, stock 8082, sink 8083, reservations 8084,
rooms 8085, receiver 8089; relay metrics 9464 (orders), 9465 (reservations),
9466 (rooms). Logs: DIR/logs/NAME.log. Binaries: SAMSA_BROKER_BIN, SAMSA_RELAY_BIN,
SAMSA_CLI_BIN, SAMSA_SHOP_BIN_DIR override where they are looked up.
EOF
}

die() { echo "$prog: $*" >&2; exit 2; }

data=./data
free=0
offset=0
host=127.0.0.1
while [ $# -gt 0 ]; do
    case $1 in
        --data) [ $# -ge 2 ] || die "--data needs a directory"; data=$2; shift 2 ;;
        --data=*) data=${1#--data=}; shift ;;
        --free-ports) free=1; shift ;;
        --port-offset) [ $# -ge 2 ] || die "--port-offset needs a number"; offset=$2; shift 2 ;;
        --port-offset=*) offset=${1#--port-offset=}; shift ;;
        --host) [ $# -ge 2 ] || die "--host needs an address"; host=$2; shift 2 ;;
        --host=*) host=${1#--host=}; shift ;;
        -h|--help) usage; exit 0 ;;
        --version) echo "samsa-shop $version"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
case $offset in ''|*[!0-9]*) die "--port-offset: '$offset' is not a whole number" ;; esac
[ "$offset" -le 56069 ] || die "--port-offset: $offset is above 56069 (9466 + N must be a port)"

shop_bin=${SAMSA_SHOP_BIN_DIR:-$here}
broker_bin=${SAMSA_BROKER_BIN:-$here/../../src/samsa-broker}
relay_bin=${SAMSA_RELAY_BIN:-$here/../../src/samsa-relay}
cli_bin=${SAMSA_CLI_BIN:-$here/../../src/samsa}
for b in "$broker_bin" "$relay_bin" "$cli_bin"; do
    [ -x "$b" ] || die "cannot find $b (build first: make build)"
done
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
broker_bin=$(abs "$broker_bin")
relay_bin=$(abs "$relay_bin")
cli_bin=$(abs "$cli_bin")
shop_bin=$(cd "$shop_bin" && pwd)
for s in orders stock sink receiver reservations rooms; do
    [ -x "$shop_bin/shop-$s" ] || die "cannot find $shop_bin/shop-$s (build first: make build)"
done

# util-linux (Debian: always installed) has both; setpriv --pdeathsig since 2.33
command -v setsid >/dev/null 2>&1 || die "setsid not found (util-linux)"
pdeath=""
if setpriv --pdeathsig TERM true 2>/dev/null; then
    pdeath="setpriv --pdeathsig TERM"
fi

mkdir -p "$data/broker" "$data/shop" "$data/logs" "$data/config" || die "cannot create $data"
data=$(cd "$data" && pwd)
logs=$data/logs

port() { # default port of $1, or 0 with --free-ports
    if [ $free = 1 ]; then echo 0; else echo $(($1 + offset)); fi
}

# -- the children: name, pid, port, the command line (kept in variables) ------

names=""            # in start order
now_s() { date +%s; }

# start NAME: runs the command in cmd_NAME with output to its log, in the
# background; remembers its pid.
start() {
    n=$1
    eval "c=\$cmd_$n"
    printf '\n=== %s: %s: start: %s\n' "$(date -u +%FT%TZ)" "$prog" "$c" >>"$logs/$n.log"
    eval "lines_$n=\$(wc -l <\"\$logs/$n.log\")"
    # exec: the pid we keep is the program's own. setsid: its own session and
    # process group, so a Ctrl-C at the terminal reaches only samsa-shop,
    # which then stops the children in order (setsid does not fork here: a
    # background child is never a process group leader). setpriv
    # --pdeathsig TERM: if samsa-shop itself dies (even by SIGKILL), each
    # child gets SIGTERM and stops cleanly instead of running on, orphaned.
    eval "exec setsid $pdeath $c" >>"$logs/$n.log" 2>&1 </dev/null &
    eval "pid_$n=$!"
}

# running PID: the process exists and is not a zombie (a child that exited
# stays a zombie until this shell reaps it; kill -0 still succeeds on it)
running() {
    kill -0 "$1" 2>/dev/null || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$st" ] && [ "$st" != Z ]
}

# wait_ready NAME REGEX SECONDS: waits for REGEX in the log lines written
# since the last start; prints the matching line. Fails if the child exits.
wait_ready() {
    n=$1 re=$2 secs=$3
    eval "p=\$pid_$n; skip=\$lines_$n"
    tries=$((secs * 20))
    while [ $tries -gt 0 ]; do
        line=$(tail -n +$((skip + 1)) "$logs/$n.log" | grep -E -m1 "$re")
        if [ -n "$line" ]; then
            printf '%s\n' "$line"
            return 0
        fi
        if ! running "$p"; then
            # (a command substitution runs this: the exit code is not ours to wait for)
            echo "$prog: $n (pid $p) exited before it was ready; its log ($logs/$n.log) ends:" >&2
            tail -n 20 "$logs/$n.log" | sed 's/^/  | /' >&2
            return 1
        fi
        sleep 0.05
        tries=$((tries - 1))
    done
    echo "$prog: $n (pid $p) not ready after ${secs}s; its log ($logs/$n.log) ends:" >&2
    tail -n 20 "$logs/$n.log" | sed 's/^/  | /' >&2
    return 1
}

# stop NAME: SIGTERM, up to 20 s, then SIGKILL.
stop() {
    n=$1
    eval "p=\${pid_$n:-}"
    [ -n "$p" ] || return 0
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null
        tries=400
        while running "$p" && [ $tries -gt 0 ]; do
            sleep 0.05
            tries=$((tries - 1))
        done
        if running "$p"; then
            echo "$prog: $n (pid $p) did not stop 20 s after SIGTERM: SIGKILL" >&2
            kill -KILL "$p" 2>/dev/null
        fi
    fi
    wait "$p" 2>/dev/null
    code=$?
    eval "pid_$n="
    echo "$prog: stopped $n (pid $p, exit code $code)"
}

stopping=0
stop_all() {
    stopping=1
    trap '' INT TERM HUP
    echo "$prog: stopping everything (relays, services, broker)"
    rev=""
    for n in $names; do rev="$n $rev"; done
    for n in $rev; do stop "$n"; done
    echo "$prog: all stopped"
}

on_signal() {
    stop_all
    exit "${1:-0}"
}
trap 'on_signal 0' INT TERM
trap 'on_signal 0' HUP

fail() {
    echo "$prog: $*" >&2
    stop_all
    exit 1
}

# -- the broker -------------------------------------------------------------

broker_cmd() { # PORT
    cmd_broker="\"$broker_bin\" --override listeners=PLAINTEXT://$host:$1 --override log.dirs=\"$data/broker\" \
--override num.partitions=4 --override auto.create.topics.enable=true --override group.initial.rebalance.delay.ms=0"
}
broker_cmd "$(port 9092)"
names="broker"
start broker
line=$(wait_ready broker "started in .* listening on " 30) || fail "the broker did not start"
bport=$(printf '%s\n' "$line" | sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p')
brokers=$host:$bport
broker_cmd "$bport"   # a restart takes the same port

# topics before any service: 4 partitions each
"$cli_bin" -b "$brokers" topic create --if-not-exists -p 4 \
    shop.orders shop.payments shop.rooms shop.reservation-results >>"$logs/topics.log" 2>&1 ||
    { tail -n 5 "$logs/topics.log" >&2; fail "cannot create the topics on $brokers"; }

# -- the services -------------------------------------------------------------

service() { # NAME DEFAULT_PORT [extra args]
    n=$1 dp=$2
    shift 2
    p=$(port "$dp")
    eval "cmd_$n=\"\\\"\$shop_bin/shop-$n\\\" --listen $host:$p --db sqlite:\\\"$data/shop/$n.db\\\" --brokers $brokers $*\""
    names="$names $n"
    start "$n"
    line=$(wait_ready "$n" "shop-$n listening on http://" 60) || fail "shop-$n did not start"
    p=$(printf '%s\n' "$line" | sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p')
    eval "port_$n=$p"
    # a restart takes the same port
    eval "cmd_$n=\"\\\"\$shop_bin/shop-$n\\\" --listen $host:$p --db sqlite:\\\"$data/shop/$n.db\\\" --brokers $brokers $*\""
}

service receiver 8089
service orders 8081
service stock 8082
service sink 8083 --sink-url "http://$host:$port_receiver/events"
service rooms 8085
service reservations 8084

# -- the relays -------------------------------------------------------------------

# Per-topic tracking (group:topic) when this samsa-relay knows it; else plain
# group names (COMPLETE then waits for every group, on every topic).
if "$relay_bin" --help 2>&1 | grep -q -E 'group:topic|GROUP:TOPIC|group\[:topic'; then
    track_orders="shop-stock:shop.orders,shop-sink:shop.payments"
    track_reservations="shop-rooms:shop.rooms"
    track_rooms="shop-reservations:shop.reservation-results"
else
    track_orders="shop-stock,shop-sink"
    track_reservations="shop-rooms"
    track_rooms="shop-reservations"
fi

relay() { # NAME DB METRICS_PORT TRACK
    n=relay-$1
    props=$data/config/$n.properties
    cat >"$props" <<EOF
# written by samsa-shop: the relay of $2.db (docs/outbox.md for every property)
outbox.db=sqlite:$data/shop/$2.db
bootstrap.servers=$brokers
track.groups=$4
metrics.listen=$host:$(port "$3")
poll.interval.ms=10
complete.interval.ms=500
stats.interval.ms=1000
retry.backoff.ms=100
retry.backoff.max.ms=5000
shutdown.timeout.ms=5000
log.level=info
EOF
    eval "cmd_$(echo "$n" | tr - _)=\"\\\"\$relay_bin\\\" \\\"$props\\\"\""
    names="$names $(echo "$n" | tr - _)"
    start "$(echo "$n" | tr - _)"
    line=$(wait_ready "$(echo "$n" | tr - _)" "samsa-relay .* started: .*metrics on http://" 60) ||
        fail "$n did not start"
    mp=$(printf '%s\n' "$line" | sed -n 's/.*metrics on http:\/\/[0-9.]*:\([0-9]*\)\/metrics.*/\1/p')
    eval "port_$(echo "$n" | tr - _)=$mp"
    # a restart takes the same metrics port
    sed -i "s/^metrics.listen=.*/metrics.listen=$host:$mp/" "$props"
}

relay orders orders 9464 "$track_orders"
relay reservations reservations 9465 "$track_reservations"
relay rooms rooms 9466 "$track_rooms"

# -- where everything is ---------------------------------------------------------------

row() { printf '  %-20s %-34s %-8s %s\n' "$1" "$2" "$3" "$4"; }
echo
echo "samsa-shop: the main job is up (data and logs under $data)"
echo
row process listens pid data
row samsa-broker "$brokers" "$pid_broker" "$data/broker"
for n in orders stock sink receiver reservations rooms; do
    eval "row shop-$n http://$host:\$port_$n \$pid_$n \"$data/shop/$n.db\""
done
row "samsa-relay (orders)" "http://$host:$port_relay_orders/metrics" "$pid_relay_orders" "orders.db ($track_orders)"
row "samsa-relay (reserv.)" "http://$host:$port_relay_reservations/metrics" "$pid_relay_reservations" "reservations.db ($track_reservations)"
row "samsa-relay (rooms)" "http://$host:$port_relay_rooms/metrics" "$pid_relay_rooms" "rooms.db ($track_rooms)"
echo
echo "Try, in another shell:"
echo "  $shop_bin/shop-load --orders 1000 --reservations 200 \\"
echo "      --orders-url http://$host:$port_orders --stock-url http://$host:$port_stock --sink-url http://$host:$port_sink \\"
echo "      --receiver-url http://$host:$port_receiver --reservations-url http://$host:$port_reservations \\"
echo "      --rooms-url http://$host:$port_rooms --brokers $brokers"
echo "  $cli_bin -b $brokers group describe shop-stock shop-sink shop-rooms shop-reservations"
echo "  $cli_bin outbox status --db sqlite:$data/shop/orders.db"
echo "  curl -s http://$host:$port_orders/stats"
echo
echo "samsa-shop: running; Ctrl-C stops everything"

# -- watch ----------------------------------------------------------------------------

# deaths_NAME: the times (s) of its recent deaths
while :; do
    sleep 1 &
    wait $! 2>/dev/null
    [ $stopping = 0 ] || continue
    for n in $names; do
        eval "p=\${pid_$n:-}"
        [ -n "$p" ] || continue
        running "$p" && continue
        wait "$p" 2>/dev/null
        code=$?
        t=$(now_s)
        eval "recent=\"\${deaths_$n:-}\""
        keep=""
        cnt=1
        for d in $recent; do
            if [ $((t - d)) -lt 60 ]; then keep="$keep $d"; cnt=$((cnt + 1)); fi
        done
        eval "deaths_$n=\"$keep $t\""
        {
            echo
            echo "$prog: !!!!!!!! $n (pid $p) DIED with exit code $code ($cnt time(s) in 60 s); its log ($logs/$n.log) ends:"
            tail -n 15 "$logs/$n.log" | sed 's/^/  | /'
        } >&2
        if [ $cnt -ge 3 ]; then
            fail "$n died $cnt times within 60 s: stopping everything"
        fi
        echo "$prog: restarting $n on the same port and data" >&2
        start "$n"
        case $n in
            broker) re="started in .* listening on " ;;
            relay_*) re="samsa-relay .* started: " ;;
            *) re="shop-$n listening on http://" ;;
        esac
        wait_ready "$n" "$re" 60 >/dev/null || fail "$n did not come back"
        eval "echo \"$prog: $n is back (pid \$pid_$n)\"" >&2
    done
done
