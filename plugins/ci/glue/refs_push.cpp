#include "refs_push.hpp"

#include <boost/json.hpp>

#include "limits.hpp"
#include "names.hpp"

namespace mesh::ci {
namespace json = boost::json;

Result<RefsPush> decode_refs_push(std::string_view payload) {
  if (payload.size() > limits::kEventBytes) return fail("refs event over 64 KiB");
  std::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return fail("refs event is not a JSON object");
  const auto& o = v.get_object();
  RefsPush push;
  const json::value* repo = o.if_contains("repo");
  if (!repo || !repo->is_string() || !valid_repo_name(repo->get_string()))
    return fail("refs event: bad repo");
  push.repo = std::string(repo->get_string());
  if (const json::value* c = o.if_contains("clock")) {
    if (c->is_uint64()) push.clock = c->get_uint64();
    if (c->is_int64() && c->get_int64() >= 0)
      push.clock = static_cast<std::uint64_t>(c->get_int64());
  }
  if (o.if_contains("op")) return push;  // remove / restore
  const json::value* updates = o.if_contains("updates");
  if (!updates || !updates->is_array()) return fail("refs event: no updates");
  if (updates->get_array().size() > 1000) return fail("refs event: too many updates");
  static const std::string zero(40, '0');
  for (const auto& u : updates->get_array()) {
    if (!u.is_object()) return fail("refs event: bad update");
    const auto& uo = u.get_object();
    auto str = [&](const char* k) -> std::string {
      const json::value* x = uo.if_contains(k);
      return x && x->is_string() ? std::string(x->get_string()) : std::string();
    };
    PushedRef r{str("ref"), str("old"), str("new")};
    if (!valid_ref(r.ref) || !valid_sha(r.old_sha) || !valid_sha(r.new_sha))
      return fail("refs event: bad ref or oid");
    if (r.new_sha == zero || r.new_sha == r.old_sha) continue;  // deletion, drop
    push.updates.push_back(std::move(r));
  }
  return push;
}

}  // namespace mesh::ci
