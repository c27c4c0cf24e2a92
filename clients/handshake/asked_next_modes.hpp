#pragma once
// The three asked-next scenarios (asked_next.hpp), one file each.
#include "asked_next.hpp"
#include "kernel/census.hpp"

namespace netlab::handshake {

// The source address this namespace's route to `host` gives.
std::string local_address_toward(const std::string& host);

// A request socket (the SYN queue): sock_diag reports it as SYN-RECV.
inline bool half_open(TcpState state) { return state == TcpState::syn_recv || state == TcpState::new_syn_recv; }

void run_syn_queue(const CommonOptions& options, const AskedNextConfig& config, Result& result);
void run_syn_flood(const CommonOptions& options, const AskedNextConfig& config, Result& result);
void run_simultaneous_open(const CommonOptions& options, const AskedNextConfig& config, Result& result);

}  // namespace netlab::handshake
