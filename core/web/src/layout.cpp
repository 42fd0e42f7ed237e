#include "mesh/web/layout.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "mesh/web/render.hpp"
#include "mesh/web/site.hpp"

namespace mesh::web {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxLabel = 40;
constexpr std::size_t kMaxHref = 256;
constexpr std::size_t kMaxEntries = 64;
constexpr std::size_t kMaxScripts = 16;

constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

bool control_char(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

Status check_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) {
    return make_error(Errc::invalid,
                      "a navigation label must be 1.." + std::to_string(kMaxLabel) + " bytes");
  }
  if (std::any_of(label.begin(), label.end(), control_char)) {
    return make_error(Errc::invalid, "a navigation label must not contain control characters");
  }
  return {};
}

Status check_href(std::string_view href) {
  if (href.empty() || href.size() > kMaxHref || href[0] != '/' || href.starts_with("//")) {
    return make_error(Errc::invalid, "a navigation href must be a path of at most " +
                                         std::to_string(kMaxHref) + " bytes starting with one /");
  }
  for (char c : href) {
    if (control_char(c) || c == ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' ||
        c == '`') {
      return make_error(Errc::invalid,
                        "a navigation href must not contain control characters, "
                        "spaces, quotes, <, > or backslashes");
    }
  }
  return {};
}

bool valid_script(std::string_view src) {
  if (!src.starts_with("/assets/") || src.size() > kMaxHref || src.size() == 8) return false;
  if (src.find("..") != std::string_view::npos || src.find("//") != std::string_view::npos) {
    return false;
  }
  return std::all_of(src.begin(), src.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '/';
  });
}

std::string replace_repo(std::string_view href, std::string_view repo) {
  std::string out;
  const std::string seg = url_segment(repo);
  for (std::size_t i = 0; i < href.size();) {
    if (href.substr(i).starts_with("{repo}")) {
      out += seg;
      i += 6;
    } else {
      out += href[i++];
    }
  }
  return out;
}

json::array nav_items(const std::vector<NavEntry>& entries, std::string_view active,
                      std::string_view repo) {
  json::array out;
  for (const auto& e : entries) {
    out.push_back(json::object{{"label", e.label},
                               {"href", repo.empty() ? e.href : replace_repo(e.href, repo)},
                               {"active", !active.empty() && e.label == active}});
  }
  return out;
}

}  // namespace

std::string url_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '_' || c == '-' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Headers security_headers(Content kind) {
  Headers h{{"Content-Security-Policy", std::string(kCsp)},
            {"X-Content-Type-Options", "nosniff"},
            {"Referrer-Policy", "same-origin"},
            {"X-Frame-Options", "DENY"}};
  if (kind != Content::asset) h.emplace_back("Cache-Control", "no-store");
  return h;
}

Status Nav::add(NavScope scope, std::string_view label, std::string_view href,
                std::string_view owner) {
  if (auto st = check_label(label); !st) return st;
  if (auto st = check_href(href); !st) return st;
  std::lock_guard lock(mu_);
  auto& list = scope == NavScope::node ? node_ : repo_;
  for (auto& e : list) {
    if (e.label == label) {
      e.href = std::string(href);
      e.owner = std::string(owner);
      return {};
    }
  }
  if (list.size() >= kMaxEntries) {
    return make_error(Errc::limit,
                      "at most " + std::to_string(kMaxEntries) + " navigation entries per scope");
  }
  list.push_back(NavEntry{std::string(label), std::string(href), std::string(owner)});
  return {};
}

Status Nav::add(std::string_view scope, std::string_view label, std::string_view href,
                std::string_view owner) {
  if (scope == "node") return add(NavScope::node, label, href, owner);
  if (scope == "repo") return add(NavScope::repo, label, href, owner);
  return make_error(Errc::invalid, "a navigation scope is \"node\" or \"repo\"");
}

void Nav::remove_owner(std::string_view owner) {
  std::lock_guard lock(mu_);
  for (auto* list : {&node_, &repo_}) {
    std::erase_if(*list, [&](const NavEntry& e) { return e.owner == owner; });
  }
}

std::vector<NavEntry> Nav::entries(NavScope scope) const {
  std::lock_guard lock(mu_);
  return scope == NavScope::node ? node_ : repo_;
}

std::vector<std::string> split_scripts(std::string_view scripts) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < scripts.size()) {
    while (i < scripts.size() && (scripts[i] == ' ' || scripts[i] == '\t' || scripts[i] == '\n')) {
      ++i;
    }
    std::size_t j = i;
    while (j < scripts.size() && scripts[j] != ' ' && scripts[j] != '\t' && scripts[j] != '\n') {
      ++j;
    }
    if (j > i) out.emplace_back(scripts.substr(i, j - i));
    i = j;
  }
  return out;
}

Result<std::string> render_layout(const Page& page, const Frame& frame) {
  json::array scripts{json::object{{"src", "/assets/mesh.js"}}};
  std::vector<std::string> seen{"/assets/mesh.js"};
  for (const auto& s : page.scripts) {
    if (!valid_script(s)) {
      return make_error(Errc::invalid, "script URL '" + s.substr(0, 80) +
                                           "' is not a path below /assets/ of [A-Za-z0-9._/-]");
    }
    if (std::find(seen.begin(), seen.end(), s) != seen.end()) continue;
    if (seen.size() > kMaxScripts) {
      return make_error(Errc::limit, "at most " + std::to_string(kMaxScripts) + " scripts a page");
    }
    seen.push_back(s);
    scripts.push_back(json::object{{"src", s}});
  }
  const std::string short_id = frame.node_id.starts_with("mesh:") ? frame.node_id.substr(5, 12)
                                                                  : frame.node_id.substr(0, 12);
  json::object ctx{
      {"title", page.title.empty() ? frame.node_name : page.title},
      {"node",
       json::object{{"name", frame.node_name}, {"id", frame.node_id}, {"short_id", short_id}}},
      {"version", frame.version},
      {"csrf", frame.csrf},
      {"peers", json::object{{"up", frame.peers_up},
                             {"total", frame.peers_total},
                             {"all_up", frame.peers_up == frame.peers_total}}},
      {"node_nav", nav_items(frame.node_nav, page.repo.empty() ? page.tab : "", "")},
      {"body", page.body_html},
      {"scripts", std::move(scripts)},
  };
  if (!page.repo.empty()) {
    ctx["repo"] = json::object{{"name", page.repo},
                               {"href", "/repos/" + url_segment(page.repo)},
                               {"tabs", nav_items(frame.repo_tabs, page.tab, page.repo)}};
  }
  RenderLimits limits;
  // The body is the page's own trusted markup, already bounded by its producer.
  limits.max_context = std::max(limits.max_context, page.body_html.size() + (1u << 20));
  return render(embedded("layout.mustache"), ctx, nullptr, limits);
}

}  // namespace mesh::web
