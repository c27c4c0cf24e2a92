-- netlab's own protocols for Wireshark and tshark (4.0 and later):
--
--   netlab_transport  the transport lab's numbered message (common/proto/transport_message.hpp):
--                     a 32-byte header (magic "NLT1", kind, sequence, send time, length,
--                     CRC-32) and its payload, the same bytes over TCP and UDP
--   netlab_framing    the 粘包 lab's frames (common/proto/codec.hpp): a 4-byte big-endian
--                     length header, or a payload ended by "\n"; --codec raw has no frames
--   netlab_rpc        the rpc lab's binary RPC (common/proto/rpc_protocol.hpp): length-framed
--                     request (id, method, key, value) and response (id, status, value or
--                     error); a connection whose first byte is not 0 is HTTP + JSON and goes
--                     to Wireshark's HTTP dissector
--
-- Load it for one run:
--   tshark -X lua_script:tools/wireshark/netlab.lua -r capture.pcap -Y netlab_rpc
--   wireshark -X lua_script:tools/wireshark/netlab.lua capture.pcap
-- The labs' default ports are registered (7001, 7006, 7007); a run on another
-- port (--port P) says so with -o, e.g. -o netlab_rpc.ports:P — every lab's
-- summary.md prints the command for its own run. A transport message is also
-- found by its magic on any port (a heuristic dissector, TCP and UDP).
--
-- Bytes that break a protocol (a length over the lab's maximum, an unknown
-- method or kind, a checksum that does not match, a frame cut by the end of the
-- capture) are marked with an expert-info error, never misread as a field.

local tcp_port_table = DissectorTable.get("tcp.port")
local udp_port_table = DissectorTable.get("udp.port")
local tcp_stream_field = Field.new("tcp.stream")

-- CRC-32 (zlib's, reflected polynomial 0xEDB88320), as common/io/stats.hpp crc32().
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit32.band(c, 1) == 1 then c = bit32.bxor(0xEDB88320, bit32.rshift(c, 1)) else c = bit32.rshift(c, 1) end
  end
  crc_table[i] = c
end

local function crc32(bytes, crc)
  crc = bit32.bnot(crc or 0)
  for i = 0, bytes:len() - 1 do
    crc = bit32.bxor(crc_table[bit32.band(bit32.bxor(crc, bytes:get_index(i)), 0xFF)], bit32.rshift(crc, 8))
  end
  return bit32.bnot(crc)
end

-- The Info column of the packet being dissected: one entry per message in it.
local info = nil
local function add_info(text) info = info and (info .. ", " .. text) or text end

-- The tcp.stream number of the packet being dissected (nil over UDP).
local function tcp_stream()
  local field = tcp_stream_field()
  return field and field.value or nil
end

-- (Re)registers `proto` on the ports of its "ports" preference.
local function register_ports(proto, table, registered)
  if registered.range then table:remove(registered.range, proto) end
  registered.range = proto.prefs.ports
  table:add(registered.range, proto)
end

-- errors(PROTO_NAME, {key = "text", ...}): one expert-info error per broken
-- case (group Malformed; a key named bad_checksum is in group Checksum), and
-- the list Proto.experts wants.
local function errors(proto_name, texts)
  local experts, list = {}, {}
  for key, text in pairs(texts) do
    local group = key == "bad_checksum" and expert.group.CHECKSUM or expert.group.MALFORMED
    experts[key] = ProtoExpert.new(proto_name .. "." .. key, text, group, expert.severity.ERROR)
    list[#list + 1] = experts[key]
  end
  return experts, list
end

-- ---- netlab_transport ------------------------------------------------------------

local transport = Proto("netlab_transport", "netlab transport message")
local transport_kinds = { [1] = "data", [2] = "done", [3] = "report", [4] = "relay_query", [5] = "relay_report" }
local TRANSPORT_HEADER = 32
local TRANSPORT_MAX_PAYLOAD = 65000
local tf = {
  magic = ProtoField.string("netlab_transport.magic", "Magic"),
  kind = ProtoField.uint16("netlab_transport.kind", "Kind", base.DEC, transport_kinds),
  reserved = ProtoField.uint16("netlab_transport.reserved", "Reserved", base.HEX),
  sequence = ProtoField.uint64("netlab_transport.sequence", "Sequence", base.DEC),
  send_time = ProtoField.uint64("netlab_transport.send_time_us", "Send time (µs, the sender's steady clock)", base.DEC),
  length = ProtoField.uint32("netlab_transport.length", "Payload length", base.DEC),
  checksum = ProtoField.uint32("netlab_transport.checksum", "CRC-32", base.HEX),
  checksum_ok = ProtoField.bool("netlab_transport.checksum_ok", "CRC-32 matches"),
  payload = ProtoField.bytes("netlab_transport.payload", "Payload"),
}
transport.fields = { tf.magic, tf.kind, tf.reserved, tf.sequence, tf.send_time, tf.length, tf.checksum, tf.checksum_ok,
                     tf.payload }
local te, transport_experts = errors("netlab_transport", {
  bad_magic = "Not a netlab transport message (magic is not NLT1)",
  bad_kind = "Unknown message kind",
  oversized = "Payload length over the lab's maximum (65000)",
  length_mismatch = "The datagram is not exactly header + length bytes",
  bad_checksum = "CRC-32 does not match: the bytes changed",
  truncated = "Shorter than a 32-byte header",
})
transport.experts = transport_experts
transport.prefs.ports = Pref.range("Ports", "7001", "TCP and UDP ports of the transport lab's server", 65535)
transport.prefs.verify = Pref.bool("Verify CRC-32", true, "Compute every message's CRC-32 (slower on big captures)")

-- One message at the start of `tvb`; returns the bytes it took.
local function dissect_transport_message(tvb, pinfo, tree)
  local item = tree:add(transport, tvb())
  if tvb:len() < TRANSPORT_HEADER then
    item:add_proto_expert_info(te.truncated)
    return tvb:len()
  end
  item:add(tf.magic, tvb(0, 4))
  if tvb(0, 4):string() ~= "NLT1" then
    item:add_proto_expert_info(te.bad_magic)
    return tvb:len()
  end
  local kind = tvb(4, 2):uint()
  local kind_item = item:add(tf.kind, tvb(4, 2))
  if not transport_kinds[kind] then kind_item:add_proto_expert_info(te.bad_kind) end
  item:add(tf.reserved, tvb(6, 2))
  item:add(tf.sequence, tvb(8, 8))
  item:add(tf.send_time, tvb(16, 8))
  local length = tvb(24, 4):uint()
  local length_item = item:add(tf.length, tvb(24, 4))
  local checksum_item = item:add(tf.checksum, tvb(28, 4))
  if length > TRANSPORT_MAX_PAYLOAD then
    length_item:add_proto_expert_info(te.oversized)
    return tvb:len()
  end
  local available = math.min(length, tvb:len() - TRANSPORT_HEADER)
  if available > 0 then item:add(tf.payload, tvb(TRANSPORT_HEADER, available)) end
  if available == length and transport.prefs.verify then
    -- (TvbRange:bytes() also returns a count: one value is kept.)
    local header_bytes = tvb(0, 28):bytes()
    local crc = crc32(header_bytes)
    if length > 0 then
      local payload_bytes = tvb(TRANSPORT_HEADER, length):bytes()
      crc = crc32(payload_bytes, crc)
    end
    local ok = crc == tvb(28, 4):uint()
    checksum_item:add(tf.checksum_ok, ok):set_generated()
    if not ok then checksum_item:add_proto_expert_info(te.bad_checksum) end
  end
  item:set_len(TRANSPORT_HEADER + available)
  item:append_text(string.format(", %s, seq %s, %d B", transport_kinds[kind] or ("kind " .. kind),
                                 tostring(tvb(8, 8):uint64()), length))
  add_info(string.format("%s seq=%s len=%d", transport_kinds[kind] or "?", tostring(tvb(8, 8):uint64()), length))
  return TRANSPORT_HEADER + available
end

local function transport_pdu_length(tvb, _, offset)
  local length = tvb(offset + 24, 4):uint()
  -- A length over the maximum is shown as one broken message, not waited for.
  if tvb(offset, 4):string() ~= "NLT1" or length > TRANSPORT_MAX_PAYLOAD then return tvb:len() - offset end
  return TRANSPORT_HEADER + length
end

local function transport_pdu(tvb, pinfo, tree)
  dissect_transport_message(tvb, pinfo, tree)
  return tvb:len()
end

function transport.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol = "NETLAB-TRANSPORT"
  info = nil
  if not tcp_stream() then  -- UDP: one datagram, exactly one message
    dissect_transport_message(tvb, pinfo, tree)
    if tvb:len() >= TRANSPORT_HEADER and tvb(0, 4):string() == "NLT1" and
        tvb(24, 4):uint() <= TRANSPORT_MAX_PAYLOAD and tvb:len() ~= TRANSPORT_HEADER + tvb(24, 4):uint() then
      tree:add_proto_expert_info(te.length_mismatch)
    end
  else
    dissect_tcp_pdus(tvb, tree, TRANSPORT_HEADER, transport_pdu_length, transport_pdu)
  end
  if info then pinfo.cols.info = info end
  return tvb:len()
end

local transport_ports = { tcp = {}, udp = {} }
local function transport_ports_changed()
  register_ports(transport, tcp_port_table, transport_ports.tcp)
  register_ports(transport, udp_port_table, transport_ports.udp)
end
transport.prefs_changed = transport_ports_changed
transport_ports_changed()

-- The magic finds the lab's messages on any port: the conversation keeps the dissector.
local function transport_heuristic(tvb, pinfo, tree)
  if tvb:len() < TRANSPORT_HEADER or tvb(0, 4):string() ~= "NLT1" then return false end
  pinfo.conversation = transport
  transport.dissector(tvb, pinfo, tree)
  return true
end
transport:register_heuristic("tcp", transport_heuristic)
transport:register_heuristic("udp", transport_heuristic)

-- ---- netlab_framing ----------------------------------------------------------------

local framing = Proto("netlab_framing", "netlab framing (粘包 lab)")
local FRAMING_LENGTH_MAX = 1024 * 1024  -- LengthHeaderCodec::default_max_frame
local FRAMING_DELIMITER_MAX = 64 * 1024 -- DelimiterCodec::default_max_frame
local ff = {
  codec = ProtoField.string("netlab_framing.codec", "Codec"),
  length = ProtoField.uint32("netlab_framing.length", "Length header", base.DEC),
  payload = ProtoField.bytes("netlab_framing.payload", "Payload"),
  payload_size = ProtoField.uint32("netlab_framing.payload_size", "Payload size", base.DEC),
  report = ProtoField.string("netlab_framing.report", "Server's report (JSON)"),
  raw = ProtoField.bytes("netlab_framing.raw", "Unframed bytes (--codec raw: where one write ends is not on the wire)"),
}
framing.fields = { ff.codec, ff.length, ff.payload, ff.payload_size, ff.report, ff.raw }
local fe, framing_experts = errors("netlab_framing", {
  oversized = "Frame over the codec's maximum: the server closes this connection",
})
framing.experts = framing_experts
framing.prefs.ports = Pref.range("Ports", "7006", "TCP ports of the framing lab's server", 65535)
framing.prefs.codec = Pref.enum("Codec", 0, "auto: length when the client's first bytes are a plausible length header, "
                                .. "raw when the server's report is a read log, delimiter otherwise",
                                { { 1, "auto", 0 }, { 2, "length", 1 }, { 3, "delimiter", 2 }, { 4, "raw", 3 } }, false)

-- Per connection (tcp.stream): the client's first bytes and whether the server
-- sent a read log. Learnt on the first pass over the file and kept for the
-- next ones (tshark -2, Wireshark's re-dissection): a raw connection is known
-- for one only once its read log has been seen at its end.
local framing_streams = {}
local function framing_state(pinfo, stream)
  if pinfo.number == 1 and not pinfo.visited then framing_streams = {} end
  local state = framing_streams[stream]
  if not state then
    state = {}
    framing_streams[stream] = state
  end
  return state
end

local function framing_codec(state)
  local chosen = framing.prefs.codec
  if chosen == 1 then return "length" elseif chosen == 2 then return "delimiter" elseif chosen == 3 then return "raw" end
  if state.read_log then return "raw" end
  if state.first_length and state.first_length <= FRAMING_LENGTH_MAX then return "length" end
  return "delimiter"
end

local frames_in_packet = 0

local function add_report(tvb, tree)
  local body = tvb(4):string()
  local item = tree:add(ff.report, tvb(4), body)
  return body, item
end

local function framing_length_pdu(tvb, pinfo, tree)
  local length = tvb(0, 4):uint()
  local item = tree:add(framing, tvb())
  item:add(ff.codec, "length"):set_generated()
  local length_item = item:add(ff.length, tvb(0, 4))
  if length > FRAMING_LENGTH_MAX then
    length_item:add_proto_expert_info(fe.oversized)
    return tvb:len()
  end
  if tvb:len() > 4 then
    if tvb(4, 1):uint() == 0x7B and pinfo.src_port == pinfo.match_uint then  -- '{' from the server: a report
      add_report(tvb, item)
    else
      item:add(ff.payload, tvb(4))
    end
  end
  item:add(ff.payload_size, length):set_generated()
  frames_in_packet = frames_in_packet + 1
  return tvb:len()
end

local function framing_length_size(tvb, _, offset)
  local length = tvb(offset, 4):uint()
  if length > FRAMING_LENGTH_MAX then return tvb:len() - offset end
  return 4 + length
end

function framing.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol = "NETLAB-FRAMING"
  local stream = tcp_stream()
  local from_server = pinfo.src_port == pinfo.match_uint
  local state = framing_state(pinfo, stream)
  if not from_server and not state.first_length and tvb:len() >= 4 then state.first_length = tvb(0, 4):uint() end
  -- The server's read log (--codec raw) is one length-framed JSON object with "reads".
  if from_server and tvb:len() > 5 and tvb(4, 1):uint() == 0x7B and tvb(4):string():find('"reads"', 1, true) then
    state.read_log = true
  end
  local codec = framing_codec(state)
  frames_in_packet = 0
  if from_server and tvb:len() > 5 and tvb(0, 1):uint() == 0 and tvb(4, 1):uint() == 0x7B then
    codec = "length"  -- the server's report, length-framed whatever the codec
  end
  if codec == "length" then
    dissect_tcp_pdus(tvb, tree, 4, framing_length_size, framing_length_pdu)
    pinfo.cols.info = string.format("%d frames (length header)", frames_in_packet)
    return tvb:len()
  end
  if codec == "raw" then
    local item = tree:add(framing, tvb())
    item:add(ff.codec, "raw"):set_generated()
    item:add(ff.raw, tvb())
    pinfo.cols.info = string.format("%d unframed bytes (--codec raw)", tvb:len())
    return tvb:len()
  end
  -- Delimiter: frames end with "\n"; an unfinished frame asks TCP for more bytes.
  local offset, frames = 0, 0
  while offset < tvb:len() do
    local rest = tvb(offset):bytes()
    local ends = nil
    for i = 0, rest:len() - 1 do
      if rest:get_index(i) == 0x0A then ends = i break end
    end
    if not ends then
      if rest:len() > FRAMING_DELIMITER_MAX then
        local item = tree:add(framing, tvb(offset))
        item:add(ff.codec, "delimiter"):set_generated()
        item:add_proto_expert_info(fe.oversized)
        break
      end
      pinfo.desegment_offset = offset
      pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
      break
    end
    local item = tree:add(framing, tvb(offset, ends + 1))
    item:add(ff.codec, "delimiter"):set_generated()
    if ends > 0 then item:add(ff.payload, tvb(offset, ends)) end
    item:add(ff.payload_size, ends):set_generated()
    if ends > FRAMING_DELIMITER_MAX then item:add_proto_expert_info(fe.oversized) end
    frames = frames + 1
    offset = offset + ends + 1
  end
  pinfo.cols.info = string.format("%d frames (delimiter)", frames)
  return tvb:len()
end

local framing_registered = {}
local function framing_ports_changed() register_ports(framing, tcp_port_table, framing_registered) end
framing.prefs_changed = framing_ports_changed
framing_ports_changed()

-- ---- netlab_rpc --------------------------------------------------------------------

local rpc = Proto("netlab_rpc", "netlab binary RPC")
local rpc_methods = { [1] = "put", [2] = "get", [3] = "add" }
local rpc_statuses = { [0] = "ok", [1] = "not_found", [2] = "bad_request", [3] = "unknown_method" }
local RPC_MAX_FRAME = 64 * 1024  -- rpc::max_frame
local RPC_MAX_KEY = 1024
local rf = {
  length = ProtoField.uint32("netlab_rpc.length", "Frame length", base.DEC),
  kind = ProtoField.string("netlab_rpc.kind", "Kind"),
  id = ProtoField.uint32("netlab_rpc.id", "Call id", base.DEC),
  method = ProtoField.uint8("netlab_rpc.method", "Method", base.DEC, rpc_methods),
  key_length = ProtoField.uint16("netlab_rpc.key_length", "Key length", base.DEC),
  key = ProtoField.string("netlab_rpc.key", "Key"),
  value = ProtoField.int64("netlab_rpc.value", "Value", base.DEC),
  status = ProtoField.uint8("netlab_rpc.status", "Status", base.DEC, rpc_statuses),
  error = ProtoField.string("netlab_rpc.error", "Error"),
}
rpc.fields = { rf.length, rf.kind, rf.id, rf.method, rf.key_length, rf.key, rf.value, rf.status, rf.error }
local re, rpc_experts = errors("netlab_rpc", {
  oversized = "Frame over the lab's maximum (65536): the server closes",
  short = "Frame too short for its fields",
  bad_method = "Unknown method id: the server answers unknown_method",
  bad_status = "Unknown status",
  bad_key = "Key length over the frame or over the lab's maximum (1024)",
})
rpc.experts = rpc_experts
rpc.prefs.ports = Pref.range("Ports", "7007", "TCP ports of the rpc lab's server", 65535)

local rpc_streams = {}  -- tcp.stream -> "binary" | "http"
function rpc.init() rpc_streams = {} end

local function rpc_request(body, item, pinfo)
  item:add(rf.kind, "request"):set_generated()
  if body:len() < 7 then item:add_proto_expert_info(re.short) return end
  item:add(rf.id, body(0, 4))
  local method = body(4, 1):uint()
  local method_item = item:add(rf.method, body(4, 1))
  local key_length = body(5, 2):uint()
  local key_item = item:add(rf.key_length, body(5, 2))
  if key_length > RPC_MAX_KEY or 7 + key_length > body:len() then key_item:add_proto_expert_info(re.bad_key) return end
  if key_length > 0 then item:add(rf.key, body(7, key_length)) end
  if not rpc_methods[method] then method_item:add_proto_expert_info(re.bad_method) return end
  local rest = body:len() - 7 - key_length
  if method ~= 2 then
    if rest < 8 then item:add_proto_expert_info(re.short) return end
    item:add(rf.value, body(7 + key_length, 8))
  end
  item:append_text(string.format(", request id %d %s", body(0, 4):uint(), rpc_methods[method]))
  add_info(string.format("%s #%d", rpc_methods[method], body(0, 4):uint()))
end

local function rpc_response(body, item, pinfo)
  item:add(rf.kind, "response"):set_generated()
  if body:len() < 5 then item:add_proto_expert_info(re.short) return end
  item:add(rf.id, body(0, 4))
  local status = body(4, 1):uint()
  local status_item = item:add(rf.status, body(4, 1))
  if not rpc_statuses[status] then status_item:add_proto_expert_info(re.bad_status) return end
  if status == 0 then
    if body:len() < 13 then item:add_proto_expert_info(re.short) return end
    item:add(rf.value, body(5, 8))
  elseif body:len() > 5 then
    item:add(rf.error, body(5))
  end
  item:append_text(string.format(", response id %d %s", body(0, 4):uint(), rpc_statuses[status]))
  add_info(string.format("%s #%d", rpc_statuses[status], body(0, 4):uint()))
end

local function rpc_pdu_length(tvb, _, offset)
  local length = tvb(offset, 4):uint()
  if length > RPC_MAX_FRAME then return tvb:len() - offset end
  return 4 + length
end

local function rpc_pdu(tvb, pinfo, tree)
  local item = tree:add(rpc, tvb())
  local length = tvb(0, 4):uint()
  local length_item = item:add(rf.length, tvb(0, 4))
  if length > RPC_MAX_FRAME then length_item:add_proto_expert_info(re.oversized) return tvb:len() end
  local body = tvb:len() > 4 and tvb(4) or tvb(0, 0)
  if pinfo.src_port == pinfo.match_uint then rpc_response(body, item, pinfo) else rpc_request(body, item, pinfo) end
  return tvb:len()
end

local http_dissector = Dissector.get("http")

function rpc.dissector(tvb, pinfo, tree)
  local stream = tcp_stream()
  local kind = rpc_streams[stream]
  if not kind then
    -- The server's rule: a client's first byte 0x00 means binary RPC, anything else HTTP.
    if pinfo.src_port == pinfo.match_uint then return 0 end
    kind = tvb(0, 1):uint() == 0 and "binary" or "http"
    rpc_streams[stream] = kind
  end
  if kind == "http" then return http_dissector:call(tvb, pinfo, tree) end
  pinfo.cols.protocol = "NETLAB-RPC"
  info = nil
  dissect_tcp_pdus(tvb, tree, 4, rpc_pdu_length, rpc_pdu)
  if info then pinfo.cols.info = info end
  return tvb:len()
end

local rpc_registered = {}
local function rpc_ports_changed() register_ports(rpc, tcp_port_table, rpc_registered) end
rpc.prefs_changed = rpc_ports_changed
rpc_ports_changed()
