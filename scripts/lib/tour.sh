# shellcheck shell=bash
# The tour's words: for each lab, the note's claim, what is run and what to
# look at, in English and in Chinese (the note's own language); the claims of
# the report card in Chinese by check id; and the lighter options --quick uses.
# Sourced by scripts/lab; defines data and functions only (no trap, no side effects).

# narration LAB LANG: three lines, "claim", "run" and "look", tab-separated.
narration() {
  local lab=$1 lang=$2
  case $lang.$lab in
    en.transport) printf '%s\t%s\t%s\n' \
      "TCP is connection-oriented, reliable, ordered and flow-controlled; UDP is none of these and lighter." \
      "the same numbered stream over TCP and UDP: plain loopback, a slow reader, an impairing relay, a lossy link and a 20 Mbit/s bottleneck between namespaces (netlab-wire), a closed port" \
      "lost / reordered counts next to the kernel's own drop counters; RST against ICMP for a closed port; packets per message; cwnd.svg: slow start, the back-off at a loss, UDP not backing off" ;;
    zh.transport) printf '%s\t%s\t%s\n' \
      "TCP 面向连接、可靠、有序、有流量控制；UDP 都没有，但更轻。" \
      "同一串编号消息分别走 TCP 和 UDP：普通回环、慢读者、丢包中继、命名空间之间的丢包链路和 20 Mbit/s 瓶颈（netlab-wire）、关闭的端口" \
      "丢失/乱序计数与内核自己的丢弃计数对照；关闭端口时 TCP 收到 RST，UDP 收到 ICMP；每条消息的包数；cwnd.svg：慢启动、丢包时的退让、UDP 不退让" ;;
    en.handshake) printf '%s\t%s\t%s\n' \
      "Three segments open a connection, and the third stops an old SYN from creating one." \
      "a server that never calls accept(), a full accept queue, a stale SYN through a raw socket; then across netlab-wire: an old SYN held in the wire arriving after the client reconnected from the same port, a lost SYN-ACK, a lost third ACK" \
      "ss -lnt Recv-Q growing without accept(); S, S., R for the stale SYN; old-syn: the SYN-ACK acking the old ISN + 1, the client's RST, the server's SYN-RECV gone and one accept(); lost-synack: about 1 s of connect(); lost-ack: SYN-RECV at the server until the client's first data" ;;
    zh.handshake) printf '%s\t%s\t%s\n' \
      "三次握手建立连接；防止旧的连接请求被错误地当作新连接。" \
      "一个从不调用 accept() 的服务器、一个满的全连接队列、通过原始套接字发出的旧 SYN；然后经过 netlab-wire：被链路扣住的旧 SYN 在客户端从同一端口重连之后才到达、丢失的 SYN-ACK、丢失的第三次握手 ACK" \
      "没有 accept() 时 ss -lnt 的 Recv-Q 在涨；旧 SYN 得到 S, S., R；old-syn：SYN-ACK 确认旧 ISN + 1，客户端内核回 RST，服务端的 SYN-RECV 消失，只 accept() 了一个连接；lost-synack：connect() 多等约 1 秒；lost-ack：服务端停在 SYN-RECV，直到客户端的第一个数据段" ;;
    en.teardown) printf '%s\t%s\t%s\n' \
      "Four segments close a connection, because each side closes its own direction." \
      "a normal close with and without a pause, a half-close with data after the FIN, close() with unread data, SO_LINGER 0; then across netlab-wire: the last ACK dropped (with and without a TIME_WAIT socket), both sides closing at once on a 20 ms wire, a replayed FIN whose RST reaches TIME_WAIT (tcp_rfc1337 0 and 1), and an old data segment replayed into a new connection on the same four-tuple" \
      "3 or 4 segments in the ladder; FIN-WAIT-2 and CLOSE-WAIT in ss; RST instead of FIN; wire-steps.txt: the server's FIN sent twice and TIME_WAIT's timer starting over (or our RST when there is none), CLOSING and TIME_WAIT on both sides, TIME_WAIT gone at the RST only with tcp_rfc1337 0, the old segment dropped by PAWS" ;;
    zh.teardown) printf '%s\t%s\t%s\n' \
      "四次挥手关闭连接，因为每一方各自关闭自己的方向。" \
      "正常关闭（有无停顿）、FIN 之后仍发数据的半关闭、有未读数据时 close()、SO_LINGER 0；然后经过 netlab-wire：丢掉第四次挥手的 ACK（有和没有 TIME_WAIT 套接字）、20 ms 链路上双方同时关闭、重放的 FIN 引出的 RST 打到 TIME_WAIT（tcp_rfc1337 为 0 和 1）、旧数据报文被重放进同一四元组的新连接" \
      "时序图里是 3 段还是 4 段；ss 里的 FIN-WAIT-2 和 CLOSE-WAIT；RST 代替 FIN；wire-steps.txt：服务端的 FIN 发了两次、TIME_WAIT 的计时器重新开始（没有 TIME_WAIT 时我们回 RST）、双方都经过 CLOSING 进入 TIME_WAIT、只有 tcp_rfc1337=0 时 RST 才提前结束 TIME_WAIT、旧报文被 PAWS 丢弃" ;;
    en.timewait) printf '%s\t%s\t%s\n' \
      "The side that closes first waits 2MSL in TIME_WAIT; many short connections pile it up; a pool fixes it." \
      "many short connections closed by the client, then by the server, then through a connection pool, then with SO_LINGER 0" \
      "TIME-WAIT counts on each side in ss.csv; the pool's count and request rate; the RST of SO_LINGER 0" ;;
    zh.timewait) printf '%s\t%s\t%s\n' \
      "先关闭的一方进入 TIME_WAIT 等待 2MSL；大量短连接会堆积 TIME_WAIT；连接池可以解决。" \
      "大量短连接，先由客户端关闭，再由服务端关闭，再走连接池，最后用 SO_LINGER 0" \
      "ss.csv 里两端的 TIME-WAIT 数；连接池的数量和请求速率；SO_LINGER 0 的 RST" ;;
    en.closewait) printf '%s\t%s\t%s\n' \
      "CLOSE_WAIT means the peer closed and the local application has not closed yet." \
      "a server that forgets close(), the fixed server, and an idle timeout" \
      "CLOSE-WAIT on the server's port in ss, the server's descriptors growing, and Send-Q 0" ;;
    zh.closewait) printf '%s\t%s\t%s\n' \
      "CLOSE_WAIT 表示对方已关闭而本地应用还没有调用 close()。" \
      "一个忘记 close() 的服务器、修好的服务器，以及空闲超时" \
      "ss 里服务端口上的 CLOSE-WAIT、服务器的文件描述符在增长、Send-Q 为 0" ;;
    en.framing) printf '%s\t%s\t%s\n' \
      "TCP is a byte stream: writes merge and split on the reader (粘包); a delimiter or a length header restores the boundaries." \
      "many small writes with no framing, then with a delimiter, then with a length header" \
      "writes against the server's reads; every echoed message checked by CRC-32" ;;
    zh.framing) printf '%s\t%s\t%s\n' \
      "TCP 是字节流：多次写在读端会合并或拆开（粘包/拆包）；分隔符或长度头可以恢复消息边界。" \
      "大量小写入：先不分帧，再用分隔符，再用长度头" \
      "写入次数对比服务端的读取次数；每条回显消息都用 CRC-32 校验" ;;
    en.http) printf '%s\t%s\t%s\n' \
      "Status codes say what happened (401 who are you, 403 I know you and no); keep-alive reuses one connection." \
      "a tour of the routes with and without credentials, then N requests with keep-alive and with Connection: close" \
      "status lines and the headers that matter; connections opened; TIME-WAIT left" ;;
    zh.http) printf '%s\t%s\t%s\n' \
      "状态码说明发生了什么（401 你是谁，403 我认识你但不行）；keep-alive 复用一个连接。" \
      "带与不带凭据走一遍各个路由，再分别用 keep-alive 和 Connection: close 发 N 个请求" \
      "状态行和关键的头；打开的连接数；剩下的 TIME-WAIT" ;;
    en.https) printf '%s\t%s\t%s\n' \
      "The client sends random 1 and its algorithms, the server random 2, its choice and its certificate; random 3 makes the session key." \
      "TLS 1.2 with RSA key transport as the note tells it, TLS 1.2 ECDHE, and TLS 1.3" \
      "the handshake trace step by step; the certificate in the clear (1.2) or not (1.3); the exporter digests equal on both sides" ;;
    zh.https) printf '%s\t%s\t%s\n' \
      "客户端发随机数1和支持的算法，服务端发随机数2、选定的算法和证书；随机数3 生成会话密钥。" \
      "笔记里讲的 TLS 1.2 RSA 密钥传输、TLS 1.2 ECDHE 和 TLS 1.3" \
      "逐步的握手记录；证书是明文（1.2）还是加密（1.3）；两端导出的密钥摘要相同" ;;
    en.rpc) printf '%s\t%s\t%s\n' \
      "RPC carries less per call than HTTP+JSON and is faster." \
      "one key-value service called over HTTP/1.1+JSON and over a binary length-framed RPC, one by one and pipelined" \
      "bytes per call each way, calls/s, and that the results are the same" ;;
    zh.rpc) printf '%s\t%s\t%s\n' \
      "RPC 每次调用比 HTTP+JSON 传的字节少，也更快。" \
      "同一个键值服务分别通过 HTTP/1.1+JSON 和二进制长度帧 RPC 调用，逐个调用和流水线" \
      "每次调用双向的字节数、每秒调用数，以及结果是否相同" ;;
    *) printf '%s\t%s\t%s\n' "(no narration for $lab)" "scripts/labs/$lab.sh" "its summary.md" ;;
  esac
}

# claim_zh ID: the report card's claim in Chinese, or nothing when unknown (the English note is kept).
claim_zh() {
  case $1 in
    write-is-not-read) echo "TCP 是字节流：一次写不等于一次读（粘包/拆包）" ;;
    delimiter-restores-boundaries) echo "粘包的解决：每条消息后加分隔符" ;;
    length-restores-boundaries) echo "粘包的解决：每条消息前加长度头" ;;
    tcp-reliable-ordered) echo "TCP 可靠、有序" ;;
    udp-no-guarantee) echo "UDP 不保证送达和顺序" ;;
    udp-loss-is-kernel-drop) echo "UDP 丢包是接收方内核丢弃的" ;;
    flow-control) echo "TCP 有流量控制，UDP 没有" ;;
    tcp-costs-more | tcp-costs-more-packets) echo "TCP 每条消息开销更大" ;;
    tcp-needs-connection) echo "TCP 需要连接，UDP 不需要" ;;
    relay-equals-server) echo "中继造成的丢失/重复/乱序与服务端统计一致" ;;
    tcp-slow-start) echo "TCP 有拥塞控制 —— 追问：慢启动时拥塞窗口每个 RTT 翻倍" ;;
    tcp-backs-off-on-loss) echo "TCP 有拥塞控制 —— 追问：丢包后拥塞窗口按算法的系数减小（cubic 0.7，reno 0.5）" ;;
    tcp-fills-the-link) echo "TCP 有拥塞控制 —— 追问：退让之后仍能占满瓶颈链路" ;;
    tcp-flows-share) echo "TCP 有拥塞控制 —— 追问：两条流公平分享瓶颈" ;;
    udp-ignores-congestion) echo "TCP 有拥塞控制，UDP 没有：UDP 不减速，TCP 让路" ;;
    tcp-algorithms-differ) echo "TCP 有拥塞控制 —— 追问：不同的拥塞控制算法退让方式不同" ;;
    three-segments) echo "三次握手：三个报文段建立连接" ;;
    kernel-handshake) echo "握手由内核在 accept() 之前完成" ;;
    backlog-bounds-queue) echo "backlog 限制全连接队列，满了就丢 SYN" ;;
    isn-per-connection) echo "每个连接的初始序列号不同" ;;
    stale-syn-rejected) echo "旧的重复 SYN 不会建立连接（第三次握手的意义）" ;;
    old-duplicate-syn-rejected) echo "为什么三次握手：防止旧的连接请求被错误地当作新连接" ;;
    two-way-would-accept) echo "只有两次握手时，旧 SYN 会建立一个客户端并不想要的连接" ;;
    lost-synack-costs-one-rto) echo "追问：SYN-ACK 丢了怎么办？重传，connect() 多等一个 RTO（约 1 秒）" ;;
    lost-ack-server-stays-syn-recv) echo "追问：第三次握手的 ACK 丢了怎么办？客户端已连接，服务端停在 SYN-RECV 并重传 SYN-ACK" ;;
    first-data-completes-handshake) echo "追问：ACK 丢失后，客户端的第一个数据段完成握手" ;;
    four-segments-to-close) echo "四次挥手：四个报文段关闭连接" ;;
    half-close) echo "收到 FIN 之后仍可以发送数据（半关闭）" ;;
    close-is-graceful) echo "close() 总是优雅关闭" ;;
    linger0-aborts) echo "SO_LINGER 0 用 RST 中止连接" ;;
    time-wait-answers-retransmitted-fin) echo "2MSL：接收端可能收不到第四次挥手，重新发送第三次挥手 —— 仍在 TIME_WAIT 的主动关闭方会回应重传的 FIN" ;;
    no-time-wait-means-rst) echo "追问：没有 TIME_WAIT 时，重传的 FIN 会怎样？（得到 RST）" ;;
    simultaneous-close-both-time-wait) echo "追问：双方同时关闭时谁进入 TIME_WAIT？（双方都经过 CLOSING 进入 TIME_WAIT）" ;;
    old-segment-rejected) echo "追问（2MSL 的第二个原因）：旧连接的报文会不会混进同一四元组的新连接？" ;;
    old-segment-without-time-wait) echo "追问：没有 TIME_WAIT 也没有时间戳（没有 PAWS）时，旧报文的字节会进入新连接吗？" ;;
    rst-kills-time-wait) echo "追问：到达 TIME_WAIT 的 RST 会提前结束它（TIME_WAIT 暗杀，RFC 1337）" ;;
    closer-holds-time-wait) echo "主动关闭方进入 TIME_WAIT 等待 2MSL" ;;
    close-leaves-server-time-wait) echo "服务端先关闭时 TIME_WAIT 在服务端" ;;
    mass-time-wait-from-many-closes) echo "大量 TIME_WAIT 来自大量连接关闭" ;;
    time-wait-not-from-lost-fourth-segment) echo "大量 TIME_WAIT 来自第四次挥手失败" ;;
    pool-fixes-time-wait) echo "长连接/连接池可以解决大量 TIME_WAIT" ;;
    linger0-is-not-the-fix) echo "SO_LINGER 0 可以解决大量 TIME_WAIT" ;;
    time-wait-exhausts-ports) echo "TIME_WAIT 会耗尽本地端口" ;;
    close-wait-means-not-closed) echo "CLOSE_WAIT 表示本地应用还没有 close()" ;;
    close-wait-is-not-sending) echo "CLOSE_WAIT 是在等剩余的数据发完" ;;
    status-codes) echo "状态码：200、301、400、401、403、404、405" ;;
    401-unauthenticated) echo "401：你是谁？（未认证）" ;;
    403-forbidden) echo "403：我认识你，但不行（无权限）" ;;
    keepalive-reuses-connection) echo "keep-alive 复用同一个连接" ;;
    keepalive-faster) echo "keep-alive 更快" ;;
    rpc-fewer-bytes) echo "RPC 每次调用比 HTTP+JSON 字节少" ;;
    rpc-faster) echo "RPC 比 HTTP 快" ;;
    same-results) echo "两种方式结果相同" ;;
    client-random-and-algorithms) echo "客户端发送随机数1和支持的算法" ;;
    server-random-choice-certificate) echo "服务端发送随机数2、选定的算法和证书" ;;
    client-checks-certificate) echo "客户端校验证书" ;;
    random-3-encrypted-with-public-key) echo "客户端生成随机数3并用服务端公钥加密" ;;
    same-session-key) echo "双方得到相同的会话密钥" ;;
    certificate-in-clear) echo "证书以明文传输" ;;
    traffic-encrypted) echo "之后的流量是加密的" ;;
  esac
}

# tour_args LAB QUICK: the options the tour gives the lab (before and after its "--").
# The tour never waits out TIME_WAIT's 60 s (scripts/lab timewait alone does);
# --quick (QUICK=1) also sends fewer messages and requests.
tour_args() {
  case $2.$1 in
    0.timewait) echo "--decay 0" ;;
    1.framing) echo "-- --messages 500" ;;
    1.transport) echo "--quick" ;;
    1.timewait) echo "--decay 0 -- --requests 500" ;;
    *) echo "" ;;
  esac
}
