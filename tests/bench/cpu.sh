# cpu.sh - sourced by the bench scripts: CPU time of a process from /proc,
# the figure that stays stable on a shared machine when msgs/s does not.
#
#   bench_cpu_us PID     user+sys CPU of PID and its threads so far, in us
#   bench_cpu_delta US0 US1 N
#                        (US1 - US0) / N, one decimal: CPU us per message
#   bench_rss_kb PID FIELD
#                        VmRSS / VmHWM of PID in kB
#   bench_host_busy_us   busy CPU of the whole machine so far (every core:
#                        user, nice, system, irq, softirq; /proc/stat), in us
#
# Fields 14 and 15 of /proc/PID/stat (utime, stime) count the whole
# process, every thread included, in clock ticks (getconf CLK_TCK).
BENCH_CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

bench_cpu_us() {
	# the command name (field 2) may hold spaces: cut after its ')'
	local s
	s=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	set -- $s
	# after the cut, utime and stime are fields 12 and 13
	echo $(( (${12} + ${13}) * 1000000 / BENCH_CLK_TCK ))
}

bench_cpu_delta() {
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "-" }'
}

bench_rss_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

bench_host_busy_us() {
	awk -v t="$BENCH_CLK_TCK" '$1 == "cpu" { printf "%.0f", ($2 + $3 + $4 + $7 + $8) * 1000000 / t; exit }' /proc/stat
}
