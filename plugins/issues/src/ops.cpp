#include "ops.hpp"

#include <array>
#include <boost/json.hpp>
#include <set>
#include <utility>

#include "limits.hpp"
#include "order_key.hpp"

namespace mesh::issues {
namespace json = boost::json;
namespace {

constexpr std::array<std::pair<Kind, std::string_view>, 11> kKinds{{
    {Kind::create, "create"},
    {Kind::edit_title, "edit_title"},
    {Kind::edit_body, "edit_body"},
    {Kind::set_state, "set_state"},
    {Kind::add_label, "add_label"},
    {Kind::remove_label, "remove_label"},
    {Kind::assign, "assign"},
    {Kind::unassign, "unassign"},
    {Kind::comment, "comment"},
    {Kind::edit_comment, "edit_comment"},
    {Kind::move, "move"},
}};

// "\"key\"" built by appending: GCC 12 warns (-Wrestrict, a known false positive) about
// "x" + std::string(...) at -O2.
std::string quoted(std::string_view key) {
  std::string q;
  q.reserve(key.size() + 2);
  q.push_back('"');
  q.append(key);
  q.push_back('"');
  return q;
}

Problem malformed(std::string message) {
  return Problem{"malformed", std::move(message)};
}

// Reads one member of the op object into its field; false (with the problem set) if it is
// missing when required or has the wrong type.
class Reader {
 public:
  explicit Reader(const json::object& o) : o_(o) {}
  Problem problem;

  bool string(std::string_view key, std::string& out, bool required = true) {
    const json::value* v = o_.if_contains(key);
    if (!v) return !required || fail("missing " + quoted(key));
    if (!v->is_string()) return fail(quoted(key) + " is not a string");
    out.assign(v->get_string().data(), v->get_string().size());
    return true;
  }
  bool strings(std::string_view key, std::vector<std::string>& out, bool required,
               std::size_t cap) {
    const json::value* v = o_.if_contains(key);
    if (!v) return !required || fail("missing " + quoted(key));
    if (!v->is_array()) return fail(quoted(key) + " is not an array");
    const auto& a = v->get_array();
    if (a.size() > cap) {  // before copying anything
      problem = Problem{std::string(key), "the op lists " + std::to_string(a.size()) + " " +
                                              std::string(key) + "; at most " +
                                              std::to_string(cap) + " are allowed"};
      return false;
    }
    out.clear();
    for (const auto& item : a) {
      if (!item.is_string()) return fail(quoted(key) + " holds a non-string");
      out.emplace_back(item.get_string().data(), item.get_string().size());
    }
    return true;
  }
  bool number(std::string_view key, std::uint64_t& out) {
    const json::value* v = o_.if_contains(key);
    if (!v) return fail("missing " + quoted(key));
    if (v->is_uint64()) {
      out = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      out = static_cast<std::uint64_t>(v->get_int64());
    } else {
      return fail(quoted(key) + " is not a non-negative integer");
    }
    return true;
  }

 private:
  bool fail(std::string message) {
    problem = malformed(std::move(message));
    return false;
  }
  const json::object& o_;
};

bool read_fields(Reader& r, Op& op) {
  if (!r.string("repo", op.repo)) return false;
  if (op.kind != Kind::create && !r.string("issue", op.issue)) return false;
  switch (op.kind) {
    case Kind::create:
      return r.number("num", op.num) && r.string("title", op.title) &&
             r.string("body", op.body, false) &&
             r.strings("labels", op.labels, false, kMaxLabels) && r.string("order", op.order);
    case Kind::edit_title:
      return r.string("title", op.title);
    case Kind::edit_body:
    case Kind::comment:
      return r.string("body", op.body);
    case Kind::set_state: {
      std::string state;
      if (!r.string("state", state) || !r.string("commit", op.commit, false)) return false;
      if (state == "open") {
        op.state = State::open;
      } else if (state == "closed") {
        op.state = State::closed;
      } else {
        r.problem = Problem{"state", "the state must be \"open\" or \"closed\""};
        return false;
      }
      return true;
    }
    case Kind::add_label:
      return r.string("label", op.value);
    case Kind::remove_label:
      return r.string("label", op.value) && r.strings("tags", op.tags, true, kMaxTagsPerRemove);
    case Kind::assign:
      return r.string("who", op.value);
    case Kind::unassign:
      return r.string("who", op.value) && r.strings("tags", op.tags, true, kMaxTagsPerRemove);
    case Kind::edit_comment:
      return r.string("comment", op.comment) && r.string("body", op.body);
    case Kind::move:
      return r.string("order", op.order);
  }
  return false;
}

Check check_id(std::string_view id, std::string_view what) {
  if (valid_full_id(id)) return std::nullopt;
  return Problem{std::string(what),
                 "invalid " + std::string(what) + " id (32 lower-case hex digits expected)"};
}

Check check_tags(const std::vector<std::string>& tags) {
  if (tags.empty()) return Problem{"tags", "a remove names no tags"};
  if (tags.size() > kMaxTagsPerRemove) {
    return Problem{"tags", "a remove names " + std::to_string(tags.size()) + " tags; at most " +
                               std::to_string(kMaxTagsPerRemove) + " are allowed"};
  }
  for (const auto& t : tags) {
    if (!valid_full_id(t)) return Problem{"tags", "invalid tag (32 lower-case hex digits)"};
  }
  return std::nullopt;
}

Check check_labels(const std::vector<std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return Problem{"labels", "an issue has " + std::to_string(labels.size()) + " labels; at most " +
                                 std::to_string(kMaxLabels) + " are allowed"};
  }
  std::set<std::string_view> seen;
  for (const auto& l : labels) {
    if (auto p = check_label(l)) return p;
    if (!seen.insert(l).second) return Problem{"labels", "label \"" + l + "\" is listed twice"};
  }
  return std::nullopt;
}

}  // namespace

std::string_view kind_name(Kind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "?";
}

std::string_view state_name(State state) {
  return state == State::open ? "open" : "closed";
}

ParsedOp parse_op(std::string_view payload) {
  ParsedOp out;
  if (payload.size() > kMaxPayload) {
    out.problem =
        Problem{"size", "the op is " + std::to_string(payload.size()) + " bytes; at most " +
                            std::to_string(kMaxPayload) + " are allowed"};
    return out;
  }
  json::parse_options opts;
  opts.max_depth = 8;  // an op is an object of scalars and flat arrays
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(payload.data(), payload.size()), ec, {}, opts);
  if (ec) {
    out.problem = malformed("not JSON: " + ec.message());
    return out;
  }
  if (!v.is_object()) {
    out.problem = malformed("not a JSON object");
    return out;
  }
  const json::object& o = v.get_object();
  const json::value* ver = o.if_contains("v");
  if (!ver || !ver->is_int64() || ver->get_int64() != kOpVersion) {
    out.problem = Problem{"version", "unsupported op version (\"v\":1 expected)"};
    return out;
  }
  const json::value* kind = o.if_contains("op");
  if (!kind || !kind->is_string()) {
    out.problem = malformed("missing \"op\"");
    return out;
  }
  Op op;
  bool known = false;
  for (const auto& [k, name] : kKinds) {
    if (kind->get_string() == json::string_view(name.data(), name.size())) {
      op.kind = k;
      known = true;
    }
  }
  if (!known) {
    std::string name(kind->get_string().data(),
                     std::min<std::size_t>(kind->get_string().size(), 40));
    bool printable = valid_utf8(name);
    for (char c : name) printable = printable && static_cast<unsigned char>(c) >= 0x20;
    out.problem = Problem{"kind", "unknown op kind" + (printable ? " \"" + name + "\"" : "")};
    return out;
  }
  Reader r(o);
  if (!read_fields(r, op)) {
    out.problem = r.problem;
    return out;
  }
  if (auto p = validate(op)) {
    out.problem = *p;
    return out;
  }
  out.op = std::move(op);
  return out;
}

Check validate(const Op& op) {
  if (auto p = check_repo(op.repo)) return p;
  if (op.kind != Kind::create) {
    if (auto p = check_id(op.issue, "issue")) return p;
  }
  switch (op.kind) {
    case Kind::create:
      if (op.num < 1 || op.num > kMaxIssueNumber) {
        return Problem{"num", "the issue number must be 1.." + std::to_string(kMaxIssueNumber)};
      }
      if (auto p = check_title(op.title)) return p;
      if (auto p = check_body(op.body, "body")) return p;
      if (auto p = check_labels(op.labels)) return p;
      return check_order_key(op.order);
    case Kind::edit_title:
      return check_title(op.title);
    case Kind::edit_body:
      return check_body(op.body, "body");
    case Kind::set_state:
      if (!op.commit.empty() && !valid_commit_id(op.commit)) {
        return Problem{"commit", "invalid commit id (40 or 64 lower-case hex digits)"};
      }
      if (op.state == State::open && !op.commit.empty()) {
        return Problem{"commit", "only a close names a commit"};
      }
      return std::nullopt;
    case Kind::add_label:
      return check_label(op.value);
    case Kind::remove_label:
      if (auto p = check_label(op.value)) return p;
      return check_tags(op.tags);
    case Kind::assign:
      return check_assignee(op.value);
    case Kind::unassign:
      if (auto p = check_assignee(op.value)) return p;
      return check_tags(op.tags);
    case Kind::comment:
      if (op.body.find_first_not_of(" \t\r\n") == std::string::npos) {
        return Problem{"comment", "the comment is empty"};
      }
      return check_body(op.body, "comment");
    case Kind::edit_comment:
      if (auto p = check_id(op.comment, "comment")) return p;
      if (op.body.find_first_not_of(" \t\r\n") == std::string::npos) {
        return Problem{"comment", "the comment is empty"};
      }
      return check_body(op.body, "comment");
    case Kind::move:
      return check_order_key(op.order);
  }
  return Problem{"kind", "unknown op kind"};
}

std::string encode_op(const Op& op) {
  json::object o;
  o["v"] = kOpVersion;
  auto kind = kind_name(op.kind);
  o["op"] = json::string_view(kind.data(), kind.size());
  o["repo"] = op.repo;
  if (op.kind != Kind::create) o["issue"] = op.issue;
  auto strings = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  switch (op.kind) {
    case Kind::create:
      o["num"] = op.num;
      o["title"] = op.title;
      o["body"] = op.body;
      o["labels"] = strings(op.labels);
      o["order"] = op.order;
      break;
    case Kind::edit_title:
      o["title"] = op.title;
      break;
    case Kind::edit_body:
    case Kind::comment:
      o["body"] = op.body;
      break;
    case Kind::set_state: {
      auto state = state_name(op.state);
      o["state"] = json::string_view(state.data(), state.size());
      if (!op.commit.empty()) o["commit"] = op.commit;
      break;
    }
    case Kind::add_label:
      o["label"] = op.value;
      break;
    case Kind::remove_label:
      o["label"] = op.value;
      o["tags"] = strings(op.tags);
      break;
    case Kind::assign:
      o["who"] = op.value;
      break;
    case Kind::unassign:
      o["who"] = op.value;
      o["tags"] = strings(op.tags);
      break;
    case Kind::edit_comment:
      o["comment"] = op.comment;
      o["body"] = op.body;
      break;
    case Kind::move:
      o["order"] = op.order;
      break;
  }
  return json::serialize(o);
}

Encoded encode_for_publish(const Op& op) {
  if (auto p = validate(op)) return Encoded{{}, *p};
  std::string payload = encode_op(op);
  if (payload.size() > kMaxPayload) {
    return Encoded{
        {},
        Problem{"size", "the op is " + std::to_string(payload.size()) + " bytes as JSON; at most " +
                            std::to_string(kMaxPayload) + " fit in one event (shorten the text)"}};
  }
  return Encoded{std::move(payload), {}};
}

}  // namespace mesh::issues
