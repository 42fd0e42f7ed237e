#include "views.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "names.hpp"

namespace mesh::browse::view {
namespace json = boost::json;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view extension(std::string_view name) {
  auto dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
}

}  // namespace

std::string repo_href(std::string_view repo) {
  return "/repos/" + url_segment(repo);
}

std::string ref_href(std::string_view repo, std::string_view what, std::string_view ref,
                     const Segments& path, std::size_t count) {
  std::string out = repo_href(repo) + "/" + std::string(what) + "/" + url_segment(ref);
  const std::size_t n = std::min(count, path.size());
  if (n > 0) out += "/" + url_path(path, n);
  return out;
}

std::string commit_href(std::string_view repo, std::string_view oid) {
  return repo_href(repo) + "/commit/" + std::string(oid);
}

std::string date_text(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return "";
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return std::string(buf, n);
}

std::string size_text(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string counts_text(const std::vector<std::uint32_t>& counts) {
  std::string out;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(counts[i]);
  }
  return out;
}

std::uint64_t counts_total(const std::vector<std::uint32_t>& counts) {
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  return total;
}

json::object commit_row(std::string_view repo, const CommitInfo& c) {
  return json::object{{"oid", c.oid},
                      {"short", c.oid.substr(0, 10)},
                      {"href", commit_href(repo, c.oid)},
                      {"summary", c.summary},
                      {"author", c.author.name},
                      {"email", c.author.email},
                      {"time_ms", c.author.time * 1000},
                      {"date", date_text(c.author.time)}};
}

json::array ref_rows(std::string_view repo, const RefList& refs, std::string_view current) {
  json::array out;
  for (const auto& r : refs.refs) {
    out.push_back(json::object{{"name", r.name},
                               {"href", ref_href(repo, "tree", r.name)},
                               {"commits_href", ref_href(repo, "commits", r.name)},
                               {"oid", r.oid},
                               {"short", r.oid.substr(0, 10)},
                               {"commit_href", commit_href(repo, r.oid)},
                               {"summary", r.summary},
                               {"time_ms", r.time * 1000},
                               {"date", date_text(r.time)},
                               {"current", r.name == current}});
  }
  return out;
}

json::array tree_rows(std::string_view repo, std::string_view ref, const Segments& dir,
                      const TreeListing& listing) {
  json::array out;
  Segments path = dir;
  path.emplace_back();
  for (const auto& e : listing.entries) {
    path.back() = e.name;
    const bool is_dir = e.kind == TreeEntry::Kind::tree;
    const char* kind = is_dir                                 ? "dir"
                       : e.kind == TreeEntry::Kind::submodule ? "submodule"
                       : e.kind == TreeEntry::Kind::link      ? "link"
                                                              : "file";
    json::object row{{"name", valid_utf8(e.name)}, {"kind", kind}, {"is_dir", is_dir}};
    if (e.kind == TreeEntry::Kind::submodule) {
      row["short"] = e.oid.substr(0, 10);  // a commit of another repo: nothing to link to here
      row["href"] = false;                 // set: templates must not find an outer href
    } else {
      row["href"] = ref_href(repo, is_dir ? "tree" : "blob", ref, path);
    }
    out.push_back(std::move(row));
  }
  return out;
}

json::array breadcrumbs(std::string_view repo, std::string_view ref, const Segments& path) {
  json::array out;
  out.push_back(json::object{{"name", valid_utf8(repo)}, {"href", ref_href(repo, "tree", ref)}});
  for (std::size_t i = 0; i < path.size(); ++i) {
    // The last has href false, not none: a template must not find the page's own href.
    json::object crumb{{"name", valid_utf8(path[i])}, {"href", false}};
    if (i + 1 < path.size()) crumb["href"] = ref_href(repo, "tree", ref, path, i + 1);
    out.push_back(std::move(crumb));
  }
  return out;
}

std::size_t line_count(std::string_view text) {
  if (text.empty()) return 0;
  std::size_t n = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  return text.back() == '\n' ? n : n + 1;
}

std::string gutter_html(std::size_t lines) {
  std::string out;
  out.reserve(lines * 32);
  for (std::size_t i = 1; i <= lines; ++i) {
    const std::string n = std::to_string(i);
    out += "<a id=\"L" + n + "\" href=\"#L" + n + "\">" + n + "</a>\n";
  }
  return out;
}

bool is_markdown(std::string_view name) {
  const std::string ext = lower(extension(name));
  return ext == "md" || ext == "markdown" || ext == "mdown" || ext == "mkd";
}

const TreeEntry* find_readme(const TreeListing& listing) {
  const TreeEntry* best = nullptr;
  int best_rank = 99;
  for (const auto& e : listing.entries) {
    if (e.kind != TreeEntry::Kind::blob) continue;
    const std::string n = lower(e.name);
    if (!n.starts_with("readme")) continue;
    int rank = 99;
    if (n == "readme.md")
      rank = 0;
    else if (n == "readme.markdown")
      rank = 1;
    else if (n == "readme")
      rank = 2;
    else if (n == "readme.txt")
      rank = 3;
    else if (n.size() > 6 && n[6] == '.')
      rank = is_markdown(n) ? 1 : 4;
    if (rank < best_rank) best = &e, best_rank = rank;
  }
  return best;
}

bool is_image(std::string_view name) {
  const std::string ext = lower(extension(name));
  return ext == "png" || ext == "gif" || ext == "jpg" || ext == "jpeg" || ext == "webp" ||
         ext == "svg";
}

std::string raw_type(std::string_view name, bool binary) {
  const std::string ext = lower(extension(name));
  if (ext == "png") return "image/png";
  if (ext == "gif") return "image/gif";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "webp") return "image/webp";
  if (ext == "svg") return "image/svg+xml";
  return binary ? "application/octet-stream" : "text/plain; charset=utf-8";
}

}  // namespace mesh::browse::view
