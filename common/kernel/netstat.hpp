#pragma once
// The kernel's own counters for this network namespace, from /proc/net/snmp
// (Ip, Tcp, Udp ...) and /proc/net/netstat (TcpExt, IpExt ...): what `nstat
// -az TcpOutRsts TcpExtListenOverflows UdpRcvbufErrors` prints. Both files hold
// pairs of lines, "<group>: Name1 Name2 ..." then "<group>: 1 2 ...". They
// count for the whole network namespace: a delta says "at least this many".
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace netlab {

// The counters of one group ("Udp", "Tcp", "TcpExt" ...) of that text: empty
// when the group is missing or its two lines do not match.
std::map<std::string, std::int64_t> parse_snmp(std::string_view text, std::string_view group);

// The group read from /proc/net/snmp now (empty when unreadable).
std::map<std::string, std::int64_t> read_snmp(std::string_view group);

// One counter of /proc/net/snmp now, or nullopt.
std::optional<std::int64_t> read_snmp_counter(std::string_view group, std::string_view name);

// One counter of /proc/net/snmp or /proc/net/netstat: `table` is the line's
// prefix ("Tcp", "TcpExt"), `name` the column. nullopt when absent.
std::optional<std::uint64_t> read_kernel_counter(const std::string& table, const std::string& name);

// The accept-queue counters: a SYN that arrives while a listener's accept
// queue is full is dropped and counted here.
struct ListenCounters {
  std::uint64_t overflows = 0;  // TcpExt ListenOverflows: the accept queue was full
  std::uint64_t drops = 0;      // TcpExt ListenDrops: SYNs a listener dropped, overflows included
};

// The counters, or nullopt when the file cannot be read or lacks them.
std::optional<ListenCounters> read_listen_counters(const std::string& path = "/proc/net/netstat");

}  // namespace netlab
