# shellcheck shell=bash
# The tour's words: for each lab, the note's claim, what is run and what to
# look at, in English and in Chinese (the note's own language); and the lighter
# options --quick uses. The report card's claims are netlab-report's table of
# claims (tools/report/claims.cpp), in both languages.
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
