#pragma once
// The kernel's accept-queue counters from /proc/net/netstat (what `nstat -az
// TcpExtListenOverflows TcpExtListenDrops` prints): a SYN that arrives while a
// listener's accept queue is full is dropped and counted here.
// They count for the whole network namespace: a delta says "at least this many".
#include <cstdint>
#include <optional>
#include <string>

namespace netlab {

struct ListenCounters {
  std::uint64_t overflows = 0;  // TcpExt ListenOverflows: the accept queue was full
  std::uint64_t drops = 0;      // TcpExt ListenDrops: SYNs a listener dropped, overflows included
};

// The counters, or nullopt when the file cannot be read or lacks them.
std::optional<ListenCounters> read_listen_counters(const std::string& path = "/proc/net/netstat");

// One counter of this network namespace's /proc/net/snmp or /proc/net/netstat
// (what `nstat -az TcpOutRsts TcpExtTCPTimeWaitOverflow` prints): `table` is
// the line's prefix ("Tcp", "TcpExt"), `name` the column. nullopt when absent.
std::optional<std::uint64_t> read_kernel_counter(const std::string& table, const std::string& name);

}  // namespace netlab
