#include "protocol.hpp"

#include <boost/json.hpp>

namespace mesh::control::detail {
namespace json = boost::json;

namespace {

json::parse_options lenient() {
  json::parse_options opt;
  opt.allow_invalid_utf8 = true;  // pieces may split a UTF-8 sequence (see protocol.hpp)
  opt.max_depth = 8;
  return opt;
}

Result<json::object> parse_object(std::string_view line) {
  json::error_code ec;
  auto v = json::parse(line, ec, {}, lenient());
  if (ec || !v.is_object()) return make_error(Errc::invalid, "not a JSON object");
  return std::move(v.as_object());
}

std::string line_of(const json::object& o) {
  return json::serialize(o) + "\n";
}

// Splits text into kPieceBytes pieces; "" still gives one (empty) piece.
std::vector<std::string_view> pieces(std::string_view text) {
  std::vector<std::string_view> out;
  do {
    out.push_back(text.substr(0, kPieceBytes));
    text.remove_prefix(out.back().size());
  } while (!text.empty());
  return out;
}

}  // namespace

Result<std::string> encode_request(const Call& call) {
  json::array args;
  for (const auto& a : call.args) args.emplace_back(a);
  json::object o{{"verb", call.verb}, {"args", std::move(args)}, {"json", call.json}};
  auto line = json::serialize(o);
  if (line.size() > kMaxLineBytes) {
    return make_error(Errc::limit, "the command line is too long for the control socket");
  }
  return line;
}

Result<Call> decode_request(std::string_view line) {
  auto o = parse_object(line);
  if (!o) return make_error(Errc::invalid, "malformed request: " + o.error().message);
  Call call;
  const auto* verb = o->if_contains("verb");
  if (!verb || !verb->is_string()) return make_error(Errc::invalid, "malformed request: no verb");
  call.verb = std::string(verb->as_string());
  if (call.verb.empty() || call.verb.size() > kMaxVerbBytes) {
    return make_error(Errc::invalid, "malformed request: bad verb");
  }
  for (unsigned char c : call.verb) {
    if (c <= 0x20 || c == 0x7f) return make_error(Errc::invalid, "malformed request: bad verb");
  }
  if (const auto* args = o->if_contains("args")) {
    if (!args->is_array() || args->as_array().size() > kMaxArgs) {
      return make_error(Errc::invalid, "malformed request: args must be an array of strings");
    }
    for (const auto& a : args->as_array()) {
      if (!a.is_string()) {
        return make_error(Errc::invalid, "malformed request: args must be an array of strings");
      }
      call.args.emplace_back(a.as_string());
    }
  }
  if (const auto* j = o->if_contains("json")) {
    if (!j->is_bool()) return make_error(Errc::invalid, "malformed request: json must be a bool");
    call.json = j->as_bool();
  }
  return call;
}

std::vector<std::string> encode_chunk(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (auto p : pieces(text)) out.push_back(line_of({{"chunk", json::string_view(p)}}));
  return out;
}

std::vector<std::string> encode_reply(const Reply& reply) {
  std::vector<std::string> out;
  auto ps = pieces(reply.output);
  for (std::size_t i = 0; i + 1 < ps.size(); ++i) {
    out.push_back(line_of({{"part", json::string_view(ps[i])}}));
  }
  out.push_back(line_of({{"exit", reply.exit_code}, {"output", json::string_view(ps.back())}}));
  return out;
}

Result<ReplyLine> decode_reply_line(std::string_view line) {
  auto bad = [] { return make_error(Errc::invalid, "malformed reply from the daemon"); };
  auto o = parse_object(line);
  if (!o) return bad();
  ReplyLine r;
  if (const auto* c = o->if_contains("chunk")) {
    if (!c->is_string()) return bad();
    r.kind = ReplyLine::chunk;
    r.text = std::string(c->as_string());
  } else if (const auto* p = o->if_contains("part")) {
    if (!p->is_string()) return bad();
    r.kind = ReplyLine::part;
    r.text = std::string(p->as_string());
  } else if (const auto* e = o->if_contains("exit")) {
    const auto* out = o->if_contains("output");
    if (!e->is_int64() || (out && !out->is_string())) return bad();
    r.kind = ReplyLine::final;
    r.exit_code = static_cast<int>(e->as_int64());
    if (out) r.text = std::string(out->as_string());
  } else {
    return bad();
  }
  return r;
}

}  // namespace mesh::control::detail
