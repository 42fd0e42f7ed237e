#include "parked.hpp"

#include "names.hpp"

namespace mesh::repl {
namespace {

std::string make(std::string_view prefix, std::string_view ref, std::string_view tip) {
  std::string out(prefix);
  out += tip;
  out += '/';
  out += ref.substr(5);  // without "refs/"
  return out;
}

}  // namespace

std::string parked_name(std::string_view ref, std::string_view tip) {
  return make(kParkedPrefix, ref, tip);
}

std::string deleted_name(std::string_view ref, std::string_view tip) {
  return make(kDeletedPrefix, ref, tip);
}

std::optional<ParkedName> parse_parked_name(std::string_view name) {
  ParkedName p;
  if (name.starts_with(kParkedPrefix)) {
    name.remove_prefix(kParkedPrefix.size());
  } else if (name.starts_with(kDeletedPrefix)) {
    name.remove_prefix(kDeletedPrefix.size());
    p.deletion = true;
  } else {
    return std::nullopt;
  }
  if (name.size() < 42 || name[40] != '/') return std::nullopt;
  p.tip = std::string(name.substr(0, 40));
  p.ref = "refs/" + std::string(name.substr(41));
  if (!valid_oid(p.tip) || !valid_ref_name(p.ref)) return std::nullopt;
  return p;
}

std::optional<std::string> legacy_parked_ref(std::string_view name) {
  if (!name.starts_with(kLegacyParkedPrefix)) return std::nullopt;
  name.remove_prefix(kLegacyParkedPrefix.size());
  auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::string ref(name.substr(slash + 1));
  if (!valid_ref_name(ref)) return std::nullopt;
  return ref;
}

}  // namespace mesh::repl
