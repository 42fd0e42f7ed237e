#include "registry_store.hpp"

#include <boost/json.hpp>

#include "names.hpp"
#include "state_file.hpp"

namespace mesh::repl {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxRegistryFile = 64 * 1024 * 1024;

json::array key_json(const Key& k) {
  return {k.clock, k.origin};
}

bool parse_key(const json::value* v, std::optional<Key>* out) {
  if (!v) return true;
  auto* a = v->if_array();
  if (!a || a->size() != 2 || !(*a)[1].is_string()) return false;
  Key k;
  if (auto* i = (*a)[0].if_int64(); i && *i >= 0) {
    k.clock = static_cast<std::uint64_t>(*i);
  } else if (auto* u = (*a)[0].if_uint64()) {
    k.clock = *u;
  } else {
    return false;
  }
  k.origin = std::string((*a)[1].as_string());
  if (k.origin.size() > 128) return false;
  *out = std::move(k);
  return true;
}

}  // namespace

std::string registry_to_json(const RepoRegistry& r) {
  json::object refs;
  for (const auto& [ref, rr] : r.refs) {
    json::object values;
    for (const auto& [value, s] : rr.values) {
      json::object o;
      if (s.set) o["set"] = key_json(*s.set);
      if (s.superseded) o["sup"] = key_json(*s.superseded);
      if (s.at_ms) o["at"] = s.at_ms;
      values[value] = std::move(o);
    }
    refs[ref] = std::move(values);
  }
  json::object out{{"version", 1}, {"refs", std::move(refs)}};
  if (r.removed) out["removed"] = key_json(*r.removed);
  if (r.restored) out["restored"] = key_json(*r.restored);
  if (r.removed_at_ms) out["removed_at"] = r.removed_at_ms;
  return json::serialize(out);
}

std::optional<RepoRegistry> registry_from_json(std::string_view text, std::string* why) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  auto* o = ec ? nullptr : v.if_object();
  if (!o) return *why = "not a JSON object", std::nullopt;
  RepoRegistry r;
  if (!parse_key(o->if_contains("removed"), &r.removed) ||
      !parse_key(o->if_contains("restored"), &r.restored)) {
    return *why = "bad removal key", std::nullopt;
  }
  if (auto* at = o->if_contains("removed_at"); at && at->is_int64()) {
    r.removed_at_ms = at->as_int64();
  }
  auto* refs = o->if_contains("refs");
  if (!refs || !refs->is_object()) return *why = "no refs", std::nullopt;
  for (const auto& [ref, values] : refs->as_object()) {
    if (!valid_ref_name(ref) || !values.is_object()) return *why = "bad ref", std::nullopt;
    RefRegistry& rr = r.refs[std::string(ref)];
    for (const auto& [value, state] : values.as_object()) {
      if (!valid_value(value) || !state.is_object()) return *why = "bad value", std::nullopt;
      ValueState s;
      const auto& so = state.as_object();
      if (!parse_key(so.if_contains("set"), &s.set) ||
          !parse_key(so.if_contains("sup"), &s.superseded)) {
        return *why = "bad key", std::nullopt;
      }
      if (auto* at = so.if_contains("at"); at && at->is_int64()) s.at_ms = at->as_int64();
      rr.values[std::string(value)] = std::move(s);
    }
  }
  return r;
}

std::map<std::string, RepoRegistry> RegistryStore::load_all(std::string* errors) const {
  std::map<std::string, RepoRegistry> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.ends_with(".json")) continue;
    name.resize(name.size() - 5);
    if (!valid_repo_name(name)) continue;
    std::string err;
    auto text = read_state_file(it->path(), kMaxRegistryFile, &err);
    std::string why;
    std::optional<RepoRegistry> r;
    if (text) r = registry_from_json(*text, &why);
    if (!r) {
      *errors += (errors->empty() ? "" : "; ") + it->path().string() + ": " + (text ? why : err);
      continue;
    }
    out.emplace(std::move(name), std::move(*r));
  }
  return out;
}

bool RegistryStore::save(const std::string& repo, const RepoRegistry& r, std::string* err) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  return write_state_file(file(repo), registry_to_json(r), /*durable=*/true, err);
}

bool RegistryStore::exists(const std::string& repo) const {
  std::error_code ec;
  return fs::exists(file(repo), ec);
}

}  // namespace mesh::repl
