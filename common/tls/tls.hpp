#pragma once
// The https lab's TLS machinery (OpenSSL 3 under Asio SSL), kept out of the
// other common groups; only the https programs link it. One header per part:
//   tls/pki.hpp       the lab's own small PKI, generated at first run (never stored in the repo)
//   tls/contexts.hpp  the three handshakes of the lab as context settings (1.3, 1.2-ecdhe, 1.2-rsa)
//   tls/keylog.hpp    the NSS key log (--keylog, SSLKEYLOGFILE) and the exporter digest
//   tls/names.hpp     TLS's numbers by name (groups, suites, versions, alerts)
//   tls/trace.hpp     the handshake trace: OpenSSL's message callback, decoded message by message
//   tls/prf.hpp       the TLS 1.2 PRF and master secret, recomputed from the traced handshake
// This header includes them all.
#include "tls/contexts.hpp"
#include "tls/keylog.hpp"
#include "tls/names.hpp"
#include "tls/pki.hpp"
#include "tls/prf.hpp"
#include "tls/trace.hpp"
