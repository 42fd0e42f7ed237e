#include "rollback.hpp"

#include <boost/json.hpp>

#include "fsutil.hpp"

namespace mesh::updater {
namespace json = boost::json;

Result<std::optional<SemVer>> load_highest_installed(const std::filesystem::path& state_file) {
  auto text = read_small_file(state_file, kMaxRollbackStateBytes);
  if (!text) {
    if (text.error().code == Errc::not_found) return std::optional<SemVer>();
    return text.error();
  }
  auto corrupt = [&](const std::string& why) {
    return make_error(Errc::invalid, state_file.string() + " is corrupt (" + why +
                                         "); it records the highest version installed, so "
                                         "updates stop until it is fixed or removed");
  };
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return corrupt("not a JSON object");
  const auto* h = v.get_object().if_contains("highest");
  if (!h || !h->is_string()) return corrupt("no \"highest\" version");
  auto ver = parse_semver(std::string_view(h->get_string()));
  if (!ver) return corrupt(ver.error().message);
  return std::optional<SemVer>(*ver);
}

Status record_installed(const std::filesystem::path& state_file, const SemVer& installed) {
  auto current = load_highest_installed(state_file);
  if (!current) return current.error();
  if (*current && compare(installed, **current) <= 0) return {};
  json::object o;
  o["highest"] = installed.str();
  return write_file_durable(state_file, json::serialize(o) + "\n");
}

Status check_not_rollback(const SemVer& candidate, const std::optional<SemVer>& highest,
                          const SemVer& running, bool force) {
  const SemVer& mark = (highest && compare(running, *highest) < 0) ? *highest : running;
  if (compare(candidate, mark) >= 0 || force) return {};
  return make_error(Errc::rollback, candidate.str() + " is older than " + mark.str() +
                                        ", the highest version installed here; use --force to "
                                        "install it anyway");
}

Result<Decision> decide(const SemVer& candidate, const SemVer& running,
                        const std::optional<SemVer>& highest, bool force) {
  int c = compare(candidate, running);
  if (c == 0) return Decision::up_to_date;
  if (auto st = check_not_rollback(candidate, highest, running, force); !st) return st.error();
  return c > 0 ? Decision::upgrade : Decision::downgrade;
}

}  // namespace mesh::updater
