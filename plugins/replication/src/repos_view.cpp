#include "repos_view.hpp"

#include <boost/json.hpp>
#include <cstdio>

namespace mesh::repl {
namespace json = boost::json;
namespace {

std::string s(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// One divergence as a sentence.
std::string describe(const json::object& d) {
  if (s(d, "kind") == "deletion") {
    return s(d, "ref") + ": " + s(d, "node") + "'s deletion was overtaken by new work (" +
           s(d, "winner").substr(0, 12) + " from " + s(d, "winner_node") + "); the branch is kept";
  }
  return s(d, "ref") + " diverged: " + s(d, "node") + "'s " + s(d, "oid").substr(0, 12) +
         " lost to " + s(d, "winner_node") + "'s " + s(d, "winner").substr(0, 12) + ", parked as " +
         s(d, "parked_as");
}

}  // namespace

std::string repos_text(const std::string& repos_json) {
  auto v = json::parse(repos_json).as_array();
  if (v.empty()) {
    return "no repos yet: add one with mesh add-repo NAME PATH (or git push "
           "https://localhost:PORT/NAME.git)\n";
  }
  std::string out = "REPO                 REFS  DIVERGENCES\n";
  std::string details;
  for (const auto& e : v) {
    const auto& o = e.as_object();
    std::string name = s(o, "name");
    auto nrefs = o.at("refs").as_object().size();
    const auto& divs = o.at("divergences").as_array();
    char line[256];
    std::snprintf(line, sizeof line, "%-20s %5zu  %zu\n", name.c_str(), nrefs, divs.size());
    out += line;
    for (const auto& d : divs) {
      const auto& x = d.as_object();
      const bool deletion = s(x, "kind") == "deletion";
      details += "\n" + name + ": " + describe(x) + "\n" +
                 (deletion ? "  delete it again: " : "  merge it:   ") + s(x, "resolve") + "\n" +
                 (deletion ? "  or keep it:      " : "  or drop it: ") + s(x, "discard") + "\n";
    }
  }
  return out + details;
}

}  // namespace mesh::repl
