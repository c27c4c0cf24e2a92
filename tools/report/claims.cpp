// The table of claims. A row's source is `note` only where the note says it:
// its `http code` names only 401 and 403, its `http header` and `http和rpc`
// sections are empty, it never says how random 3 travels nor that TIME_WAIT
// uses up ports. Where the note is silent or wrong, the claim's text says so.
// Text in 「」 is the note's own words.
#include "claims.hpp"

#include <array>

namespace netlab::report {

namespace {

constexpr std::array<std::string_view, 11> headings{
    "tcp和udp",        "为什么三次握手", "为什么四次挥手", "timewait是什么状态", "出现大量timewait", "closewait是什么状态",
    "粘包怎么解决",    "http code",      "http header",    "https 过程",         "http和rpc"};

constexpr Source note = Source::note;
constexpr Source asked = Source::asked_next;

constexpr Claim table[] = {
    // --- tcp和udp: TCP 面向连接、可靠、有序、有流量控制和拥塞控制，开销更大；UDP 都没有
    {"tcp-needs-connection", "tcp和udp", note, "TCP 面向连接，UDP 无连接",
     "TCP is connection-oriented, UDP is connectionless", ""},
    {"tcp-reliable-ordered", "tcp和udp", note, "TCP 可靠（确认和重传）、有序",
     "TCP is reliable (acknowledgements and retransmission) and ordered", ""},
    {"udp-no-guarantee", "tcp和udp", note, "UDP 不可靠，不保证顺序", "UDP is unreliable and does not keep order", ""},
    {"flow-control", "tcp和udp", note, "TCP 有流量控制，UDP 没有", "TCP has flow control, UDP has none", ""},
    {"udp-ignores-congestion", "tcp和udp", note, "TCP 有拥塞控制，UDP 没有：在瓶颈处 UDP 不减速，TCP 让路",
     "TCP has congestion control, UDP has none: at a bottleneck UDP keeps its rate and TCP gives way", ""},
    {"tcp-costs-more", "tcp和udp", note, "TCP 开销更大：每条消息的头部字节更多",
     "TCP costs more: more header bytes per message", ""},
    {"tcp-costs-more-packets", "tcp和udp", note, "TCP 开销更大：发一条消息也要握手、确认和挥手",
     "TCP costs more: one message takes a handshake, acknowledgements and a teardown", ""},
    {"udp-loss-is-kernel-drop", "tcp和udp", asked, "UDP 的数据报丢在哪里？接收慢时，接收方内核因缓冲区满而丢弃",
     "where are UDP's datagrams lost? a slow receiver's kernel drops them when its buffer is full", ""},
    {"relay-equals-server", "tcp和udp", asked, "实验自查：中继做的丢弃、重复、乱序正是接收方统计到的",
     "the lab's own check: what the relay dropped, duplicated and reordered is what the receiver counted", ""},
    {"tcp-slow-start", "tcp和udp", asked, "慢启动：拥塞窗口每个往返翻倍",
     "slow start: the congestion window doubles every round trip", ""},
    {"tcp-backs-off-on-loss", "tcp和udp", asked, "丢包时 TCP 按算法的系数减小窗口（cubic 0.7，reno 0.5）",
     "on a loss TCP cuts its window by its algorithm's factor (cubic 0.7, reno 0.5)", ""},
    {"tcp-fills-the-link", "tcp和udp", asked, "退让之后 TCP 仍能占满瓶颈链路",
     "after backing off TCP still fills the bottleneck", ""},
    {"tcp-flows-share", "tcp和udp", asked, "两条 TCP 流公平地分享瓶颈", "two TCP flows share a bottleneck fairly", ""},
    {"tcp-algorithms-differ", "tcp和udp", asked, "拥塞控制算法不止一种，退让的方式各不相同",
     "there is more than one congestion control, and they back off differently", ""},

    // --- 为什么三次握手
    {"three-segments", "为什么三次握手", note, "三次握手：三个报文段建立连接", "three segments open a connection", ""},
    {"old-duplicate-syn-rejected", "为什么三次握手", note,
     "防止「旧连接请求被错误地当作新连接请求处理」：旧的重复 SYN 不会建立连接",
     "so that 「旧连接请求被错误地当作新连接请求处理」 does not happen (an old connection request handled as a new "
     "one): an old duplicate SYN opens no connection",
     "stale-syn-rejected"},
    {"kernel-handshake", "为什么三次握手", asked, "握手由内核完成，在 accept() 之前",
     "the kernel completes the handshake before accept()", ""},
    {"backlog-bounds-queue", "为什么三次握手", asked, "全连接队列（backlog）满时，新连接要等",
     "a full accept queue (backlog) makes new connections wait", ""},
    {"isn-per-connection", "为什么三次握手", asked, "每个连接有自己的初始序列号",
     "each connection starts from its own initial sequence number", ""},
    {"two-way-would-accept", "为什么三次握手", asked, "如果只有两次握手，旧 SYN 会建立一个客户端并不想要的连接",
     "with two segments the old SYN would open a connection the client never wanted", ""},
    {"lost-synack-costs-one-rto", "为什么三次握手", asked, "SYN-ACK 丢了：重传，connect() 多等一个 RTO（约 1 秒）",
     "a lost SYN-ACK is sent again and connect() waits one RTO (about 1 s)", ""},
    {"lost-ack-server-stays-syn-recv", "为什么三次握手", asked,
     "第三次握手的 ACK 丢了：客户端已连接，服务端停在 SYN-RECV 并重传 SYN-ACK",
     "a lost third ACK: the client is connected, the server stays in SYN-RECV and sends its SYN-ACK again", ""},
    {"first-data-completes-handshake", "为什么三次握手", asked, "ACK 丢了之后，客户端的第一个数据段完成握手",
     "after a lost ACK, the client's first data segment completes the handshake", ""},

    // --- 为什么四次挥手
    {"four-segments-to-close", "为什么四次挥手", note, "四次挥手：四个报文段关闭连接",
     "four segments close a connection", ""},
    {"half-close", "为什么四次挥手", note,
     "收到 FIN 的一方还可以继续发数据（半关闭）。笔记说第四次挥手「也会用来传输可能还未完成的数据」——不对："
     "主动关闭方发出 FIN 后不再发数据（RFC 9293 §3.10.4），还在发的是被动关闭方，在它的 ACK 和 FIN 之间",
     "the side that receives a FIN can still send (half-close). The note says the fourth segment "
     "「也会用来传输可能还未完成的数据」 (also carries data not yet sent) — wrong: after its FIN the closer sends no "
     "data (RFC 9293 §3.10.4); the passive side sends it, between its ACK and its FIN",
     ""},
    {"close-is-graceful", "为什么四次挥手", asked, "close() 总是用 FIN 优雅地关闭", "close() always closes gracefully, with a FIN",
     ""},
    {"linger0-aborts", "为什么四次挥手", asked, "SO_LINGER 0：close() 用 RST 中止连接，不留 TIME_WAIT",
     "SO_LINGER 0: close() aborts with an RST and leaves no TIME_WAIT", ""},
    {"simultaneous-close-both-time-wait", "为什么四次挥手", asked, "双方同时关闭：两边都经过 CLOSING 进入 TIME_WAIT",
     "both sides closing at once: each goes through CLOSING to TIME_WAIT", ""},

    // --- timewait是什么状态
    {"closer-holds-time-wait", "timewait是什么状态", note, "主动关闭的一方进入 TIME_WAIT，持续 2MSL",
     "the side that closes first enters TIME_WAIT and holds it for 2MSL", ""},
    {"time-wait-answers-retransmitted-fin", "timewait是什么状态", note,
     "为什么等 2MSL：「接收端可能收不到第四次挥手, 重新发送第三次挥手」——仍在 TIME_WAIT 的主动关闭方会回应重传的 FIN",
     "why 2MSL: 「接收端可能收不到第四次挥手, 重新发送第三次挥手」 (the peer may miss the fourth segment and send the "
     "third again) — the closer, still in TIME_WAIT, answers the retransmitted FIN",
     ""},
    {"old-segment-rejected", "timewait是什么状态", note, "2MSL 的第二个原因：旧连接的报文不会混进同一四元组的新连接",
     "2MSL's second reason: an old connection's segment does not land in a new connection on the same four-tuple", ""},
    {"no-time-wait-means-rst", "timewait是什么状态", asked, "没有 TIME_WAIT 时，重传的 FIN 得到 RST",
     "without TIME_WAIT, the retransmitted FIN gets an RST", ""},
    {"old-segment-without-time-wait", "timewait是什么状态", asked,
     "没有 TIME_WAIT 也没有时间戳（没有 PAWS）时，旧报文的字节会进入新连接",
     "with no TIME_WAIT and no timestamps (no PAWS), the old segment's bytes enter the new connection", ""},
    {"rst-kills-time-wait", "timewait是什么状态", asked, "到达 TIME_WAIT 的 RST 会提前结束它（TIME_WAIT 暗杀，RFC 1337）",
     "an RST reaching a TIME_WAIT socket ends it early (TIME_WAIT assassination, RFC 1337)", ""},

    // --- 出现大量timewait
    {"mass-time-wait-from-many-closes", "出现大量timewait", note, "大量 TIME_WAIT 来自大量连接的关闭",
     "many TIME_WAIT sockets come from many connections closing", ""},
    {"time-wait-not-from-lost-fourth-segment", "出现大量timewait", note, "大量 TIME_WAIT 是第四次挥手失败造成的",
     "many TIME_WAIT sockets come from the fourth segment (the last ACK) failing", ""},
    {"pool-fixes-time-wait", "出现大量timewait", note, "解决：长连接 / 连接池",
     "the fix: long connections, a connection pool", ""},
    {"time-wait-exhausts-ports", "出现大量timewait", asked, "TIME_WAIT 会耗尽本地端口（笔记没有这么说）",
     "TIME_WAIT sockets use up the local ports (the note does not say so)", ""},
    {"linger0-is-not-the-fix", "出现大量timewait", asked, "SO_LINGER 0 可以解决大量 TIME_WAIT",
     "SO_LINGER 0 is a fix for many TIME_WAIT sockets", ""},

    // --- closewait是什么状态
    {"close-wait-means-not-closed", "closewait是什么状态", note, "CLOSE_WAIT：对方已关闭，本地应用还没有 close()",
     "CLOSE_WAIT: the peer has closed, the local application has not called close()", ""},
    {"close-wait-is-not-sending", "closewait是什么状态", note, "CLOSE_WAIT 是在等剩余的数据发完",
     "CLOSE_WAIT is waiting for the remaining data to be sent", ""},

    // --- 粘包怎么解决
    {"write-is-not-read", "粘包怎么解决", note, "TCP 是字节流：一次写不等于一次读（粘包/拆包）",
     "TCP is a byte stream: one write is not one read (粘包/拆包)", ""},
    {"delimiter-restores-boundaries", "粘包怎么解决", note, "解决：每条消息后加分隔符",
     "the fix: a delimiter after each message", ""},
    {"length-restores-boundaries", "粘包怎么解决", note, "解决：每条消息前加长度头",
     "the fix: a length header before each message", ""},

    // --- http code: the note names 401 and 403 only
    {"401-unauthenticated", "http code", note, "401：未认证——没有凭据或凭据不对",
     "401: unauthenticated — no credentials, or wrong ones", ""},
    {"403-forbidden", "http code", note,
     "403：认证了但没有权限（RFC 9110 §15.5.4：换一组凭据可能就行；服务器也可以答 404 来隐藏资源）",
     "403: authenticated but not allowed (RFC 9110 §15.5.4: other credentials may succeed; a server may answer 404 "
     "instead, to hide the resource)",
     ""},
    {"status-codes", "http code", asked, "其他状态码：200、301、400、404、405（笔记的 http code 只讲了 401 和 403）",
     "the other codes: 200, 301, 400, 404, 405 (the note's http code names only 401 and 403)", ""},

    // --- http header: the note's section is empty
    {"keepalive-reuses-connection", "http header", asked, "keep-alive 用一个连接发多个请求（笔记的 http header 一节是空的）",
     "keep-alive reuses one connection for many requests (the note's http header section is empty)", ""},
    {"keepalive-faster", "http header", asked, "keep-alive 省掉每个请求的握手和挥手，所以更快",
     "keep-alive saves a handshake and a teardown per request, so it is faster", ""},
    {"close-leaves-server-time-wait", "http header", asked, "Connection: close 时服务端先关闭，TIME_WAIT 留在服务端",
     "with Connection: close the server closes first, so the TIME_WAIT is on the server", ""},

    // --- https 过程: random 1, random 2 + choice + certificate, the client checks it, random 3, the session key
    {"client-random-and-algorithms", "https 过程", note, "客户端发送随机数1和支持的算法",
     "the client sends random 1 and the algorithms it supports", ""},
    {"server-random-choice-certificate", "https 过程", note, "服务端发送随机数2、选定的算法和证书",
     "the server sends random 2, its choice and its certificate", ""},
    {"client-checks-certificate", "https 过程", note, "客户端校验证书", "the client checks the certificate", ""},
    {"same-session-key", "https 过程", note, "随机数1、2、3 生成会话密钥，双方得到同一个",
     "random 1, 2 and 3 make the session key, the same on both sides", ""},
    {"random-3-encrypted-with-public-key", "https 过程", asked, "随机数3 用服务端的公钥加密后发送（笔记没有说随机数3怎么传）",
     "random 3 travels encrypted with the server's public key (the note does not say how it travels)", ""},
    {"certificate-in-clear", "https 过程", asked, "证书以明文传输", "the certificate travels in the clear",
     "capture-certificate-*"},
    {"traffic-encrypted", "https 过程", asked, "握手之后的流量是加密的", "the traffic after the handshake is encrypted",
     "capture-encrypted-*"},
    {"keylog-decrypts", "https 过程", asked, "有了会话密钥（key log），抓到的流量可以解密",
     "with the session keys (the key log) the captured traffic can be read", ""},
    {"client-refuses-unknown-ca", "https 过程", asked, "证书的 CA 不受信任时，客户端拒绝",
     "the client refuses a certificate from a CA it does not trust", ""},
    {"client-refuses-wrong-name", "https 过程", asked, "证书上的名字不是这个主机时，客户端拒绝",
     "the client refuses a certificate that does not name the host", ""},
    {"client-refuses-expired", "https 过程", asked, "证书过期时，客户端拒绝", "the client refuses an expired certificate", ""},
    {"server-survives", "https 过程", asked, "坏客户端拖不垮服务器", "a bad client does not take the server down", ""},
    {"openssl-interop", "https 过程", asked, "任何 TLS 客户端（openssl s_client）都能用这个 CA 验证服务器",
     "any TLS client (openssl s_client) verifies the server with the CA", ""},
    {"curl-interop", "https 过程", asked, "像浏览器一样的客户端（curl）能取到页面", "a browser-like client (curl) fetches the page",
     ""},

    // --- http和rpc: the note's section is empty
    {"same-results", "http和rpc", asked, "同一个服务走两种传输，结果相同（笔记的 http和rpc 一节是空的）",
     "one service over two transports gives the same results (the note's http和rpc section is empty)", ""},
    {"rpc-fewer-bytes", "http和rpc", asked, "RPC 每次调用传的字节比 HTTP+JSON 少",
     "RPC carries fewer bytes per call than HTTP+JSON", ""},
    {"rpc-faster", "http和rpc", asked, "RPC 比 HTTP 快", "RPC is faster than HTTP", ""},
};

// "a,b-*" against an id: the matching alias, as written.
std::string_view matching_alias(std::string_view also, std::string_view id) {
  while (!also.empty()) {
    const auto comma = also.find(',');
    const std::string_view alias = also.substr(0, comma);
    also = comma == std::string_view::npos ? std::string_view{} : also.substr(comma + 1);
    if (alias == id) return alias;
    if (alias.ends_with("-*") && id.size() > alias.size() - 1 && id.starts_with(alias.substr(0, alias.size() - 1)))
      return alias;
  }
  return {};
}

}  // namespace

std::string_view to_string(Source source) { return source == Source::note ? "note" : "asked next"; }

std::span<const std::string_view> note_headings() { return headings; }

std::span<const Claim> claims() { return table; }

const Claim* claim_of(std::string_view check_id) {
  for (const auto& claim : table)
    if (claim.id == check_id) return &claim;
  for (const auto& claim : table)
    if (!matching_alias(claim.also, check_id).empty()) return &claim;
  return nullptr;
}

std::string_view mode_of(std::string_view check_id, const Claim& claim) {
  const std::string_view alias = check_id == claim.id ? std::string_view{} : matching_alias(claim.also, check_id);
  if (!alias.ends_with("-*")) return {};
  return check_id.substr(alias.size() - 1);
}

}  // namespace netlab::report
