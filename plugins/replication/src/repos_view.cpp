#include "repos_view.hpp"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cstdio>

namespace mesh::repl {
namespace json = boost::json;
namespace urls = boost::urls;
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

std::string repos_section_context(const std::string& repos_json, const std::string& port,
                                  std::size_t max_refs) {
  json::array list;
  const json::value repos = json::parse(repos_json);  // outlives the loop (not a temporary)
  for (const auto& e : repos.as_array()) {
    const auto* o = e.if_object();
    if (!o) continue;
    json::array refs;
    std::size_t ref_count = 0;
    if (const auto* rv = o->if_contains("refs"); rv && rv->is_object()) {
      for (const auto& [ref, oid] : rv->as_object()) {
        ++ref_count;
        if (refs.size() >= max_refs) continue;
        const std::string full = oid.is_string() ? std::string(oid.as_string()) : "";
        refs.push_back(json::object{{"name", ref}, {"oid", full}, {"short", full.substr(0, 12)}});
      }
    }
    json::array divs;
    if (const auto* dv = o->if_contains("divergences"); dv && dv->is_array()) {
      for (const auto& x : dv->as_array()) {
        const auto* xo = x.if_object();
        if (!xo) continue;
        divs.push_back(json::object{{"ref", s(*xo, "ref")},
                                    {"node", s(*xo, "node")},
                                    {"short", s(*xo, "oid").substr(0, 12)},
                                    {"parked_as", s(*xo, "parked_as")},
                                    {"resolve", s(*xo, "resolve")},
                                    {"discard", s(*xo, "discard")}});
      }
    }
    const std::string name = s(*o, "name");
    json::value diverged = divs.empty() ? json::value(false) : json::value(divs.size());
    list.push_back(json::object{{"name", name},
                                {"href", "/repos/" + urls::encode(name, urls::unreserved_chars)},
                                {"ref_count", ref_count},
                                {"has_refs", !refs.empty()},
                                {"refs", std::move(refs)},
                                {"diverged", std::move(diverged)},
                                {"divergences", std::move(divs)}});
  }
  json::object ctx{{"port", port}, {"count", list.size()}, {"empty", list.empty()}};
  ctx["repos"] = std::move(list);
  return json::serialize(ctx);
}

std::string repos_status_json(const std::string& repos_json, std::size_t cap) {
  if (repos_json.size() <= cap) return repos_json;
  json::array list = json::parse(repos_json).as_array();
  for (auto& e : list) {
    if (auto* o = e.if_object()) {
      (*o)["refs"] = json::object{};
      (*o)["refs_omitted"] = true;
    }
  }
  return json::serialize(list);
}

}  // namespace mesh::repl
