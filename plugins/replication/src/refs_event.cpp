#include "refs_event.hpp"

#include <boost/json.hpp>

#include "names.hpp"

namespace mesh::repl {
namespace json = boost::json;
namespace {

json::object update_json(const RegistryUpdate& u) {
  json::object o{{"ref", u.ref}, {"old", u.old_oid}, {"new", u.new_oid}};
  if (!u.supersedes.empty()) {
    json::array s;
    for (const auto& v : u.supersedes) s.emplace_back(v);
    o["supersedes"] = std::move(s);
  }
  return o;
}

json::object head(const RefsEvent& e) {
  json::object o{{"repo", e.repo}, {"clock", e.clock}};
  switch (e.op) {
    case RefsEvent::Op::remove:
      o["op"] = "remove";
      break;
    case RefsEvent::Op::restore:
      o["op"] = "restore";
      break;
    case RefsEvent::Op::updates:
      break;
  }
  return o;
}

const json::string* str_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}

bool parse_update(const json::value& v, RegistryUpdate* u, std::string* why) {
  auto* o = v.if_object();
  if (!o) return *why = "an update is not an object", false;
  auto *ref = str_at(*o, "ref"), *old = str_at(*o, "old"), *nw = str_at(*o, "new");
  if (!ref || !valid_ref_name(*ref)) return *why = "invalid ref name", false;
  if (!old || !nw || !valid_oid(*old) || !valid_oid(*nw)) return *why = "invalid oid", false;
  u->ref = std::string(*ref);
  u->old_oid = std::string(*old);
  u->new_oid = std::string(*nw);
  if (auto* s = o->if_contains("supersedes")) {
    auto* a = s->if_array();
    if (!a || a->size() > kMaxSupersedesPerUpdate) return *why = "invalid supersedes", false;
    for (const auto& x : *a) {
      auto* xs = x.if_string();
      if (!xs || !valid_value(*xs)) return *why = "invalid supersedes value", false;
      u->supersedes.emplace_back(*xs);
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> encode_refs_event(const RefsEvent& e, std::size_t budget) {
  std::vector<std::string> out;
  if (e.op != RefsEvent::Op::updates) {
    out.push_back(json::serialize(head(e)));
    return out;
  }
  json::array batch;
  std::size_t size = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    json::object o = head(e);
    o["updates"] = std::move(batch);
    o["forced"] = e.forced;
    out.push_back(json::serialize(o));
    batch = json::array();
    size = 0;
  };
  for (const auto& u : e.updates) {
    json::object uj = update_json(u);
    std::size_t n = json::serialize(uj).size() + 1;
    if (!batch.empty() && (size + n > budget || batch.size() >= 300)) flush();
    batch.push_back(std::move(uj));
    size += n;
  }
  flush();
  return out;
}

DecodeStatus decode_refs_event(std::string_view payload, RefsEvent* out, std::string* why) {
  if (payload.size() > kMaxRefsPayload) return *why = "too large", DecodeStatus::invalid;
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  if (!o) return *why = "not a JSON object", DecodeStatus::invalid;
  auto* repo = str_at(*o, "repo");
  if (!repo || !valid_repo_name(*repo)) return *why = "invalid repo name", DecodeStatus::invalid;
  out->repo = std::string(*repo);
  auto* clock = o->if_contains("clock");
  if (!clock) return *why = "no clock (an older version's event)", DecodeStatus::legacy;
  if (auto* i = clock->if_int64(); i && *i >= 0) {
    out->clock = static_cast<std::uint64_t>(*i);
  } else if (auto* u = clock->if_uint64()) {
    out->clock = *u;
  } else {
    return *why = "invalid clock", DecodeStatus::invalid;
  }
  if (auto* op = o->if_contains("op")) {
    auto* s = op->if_string();
    if (s && *s == "remove") {
      out->op = RefsEvent::Op::remove;
    } else if (s && *s == "restore") {
      out->op = RefsEvent::Op::restore;
    } else {
      return *why = "unknown op", DecodeStatus::invalid;
    }
    return DecodeStatus::ok;
  }
  out->op = RefsEvent::Op::updates;
  auto* updates = o->if_contains("updates");
  auto* arr = updates ? updates->if_array() : nullptr;
  if (!arr || arr->empty() || arr->size() > kMaxUpdatesPerEvent) {
    return *why = "invalid updates", DecodeStatus::invalid;
  }
  for (const auto& u : *arr) {
    RegistryUpdate parsed;
    if (!parse_update(u, &parsed, why)) {
      *why = "in repo " + out->repo + ": " + *why;
      return DecodeStatus::invalid;
    }
    out->updates.push_back(std::move(parsed));
  }
  if (auto* f = o->if_contains("forced"); f && f->is_bool()) out->forced = f->as_bool();
  return DecodeStatus::ok;
}

}  // namespace mesh::repl
