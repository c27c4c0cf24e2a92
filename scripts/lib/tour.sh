# shellcheck shell=bash
# The tour's words: for each lab, the note's claim, what is run and what to
# look at, in English and in Chinese (the note's own language), and the lighter
# options --quick uses, all read from the lab's declaration (declare.sh); the
# claims of the report card in Chinese by check id.
# Sourced by scripts/lab after declare.sh; defines data and functions only (no trap, no side effects).

# narration LAB LANG: three lines, "claim", "run" and "look", tab-separated,
# from the lab's declaration (declare.sh: lab-claim, lab-claim-zh, ...).
narration() {
  local lab=$1 suffix="" key value
  local -a lines=()
  [[ $2 == en ]] || suffix=-$2
  for key in claim run look; do
    value=$(lab_field "$lab" "$key$suffix")
    lines+=("$value")
  done
  if [[ -z ${lines[0]} ]]; then
    lines=("(no narration for $lab)" "scripts/labs/$lab.sh" "its summary.md")
  fi
  printf '%s\t%s\t%s\n' "${lines[@]}"
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

# tour_args LAB QUICK: the options the tour gives the lab (before and after its
# "--"), from its declaration: lab-tour, or with --quick (QUICK=1) lab-tour-quick.
# The tour never waits out TIME_WAIT's 60 s (scripts/lab timewait alone does);
# --quick also sends fewer messages and requests.
tour_args() {
  if (($2)); then lab_field "$1" tour-quick; else lab_field "$1" tour; fi
}
