// The repo pages (docs/web.md, "Repo pages"), free of the ABI: the plugin turns each call on
// its routes into a PageRequest, runs handle() on a reader thread, and answers the PageResponse
// with ui_respond (a page in the node's layout) or http_respond (raw bytes, redirects).
//
//   GET /repos                                   every repo: last commit, refs, activity
//   GET /repos/{repo}                            the default branch: files, README, 50 commits
//   GET /repos/{repo}/tree/{ref}[/{path...}]     a directory at a branch, tag or commit
//   GET /repos/{repo}/blob/{ref}/{path...}       a file (size cap, binary detection, markdown)
//   GET /repos/{repo}/raw/{ref}/{path...}        its bytes (images for READMEs)
//   GET /repos/{repo}/commits/{ref}[?page=N]     the log, 50 a page
//   GET /repos/{repo}/commit/{sha}               message and diffstat
//
// A {ref} with '/' arrives as one segment with %2F (the host decodes captures).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "settings.hpp"

namespace mesh::browse {

struct PageRequest {
  enum class Kind { index, overview, tree, blob, raw, commits, commit, unknown };
  Kind kind = Kind::unknown;
  std::string repo, ref, path, sha;  // the route's captures, percent-decoded
  std::string query;                 // raw, after '?'
  std::string base_url;              // "http://127.0.0.1:7979" for clone commands; may be empty
};

struct PageResponse {
  bool page = true;  // true: ui_respond in the layout; false: a raw http response
  std::uint32_t status = 200;
  std::string title, repo, tab, body_html;
  std::vector<std::pair<std::string, std::string>> headers;  // raw responses
  std::string body;
};

// The host's template engine and markdown renderer (ui_render, markdown_render).
class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual bool render(std::string_view tmpl, const std::string& context_json, std::string* out,
                      std::string* error) = 0;
  // false: no markdown renderer (the text is then shown as plain text).
  virtual bool markdown(std::string_view text, std::string_view link_base,
                        std::string_view image_base, std::string* out) = 0;
};

// The sparkline's counts per (repo, tip), for the current day: a repo page must not walk
// thousands of commits on every load.
class ActivityCache {
 public:
  bool get(const std::string& key, std::vector<std::uint32_t>* out);
  void put(const std::string& key, std::vector<std::uint32_t> counts);

 private:
  static constexpr std::size_t kMaxEntries = 256;
  std::mutex mu_;
  std::map<std::string, std::vector<std::uint32_t>> map_;
};

class Pages {
 public:
  using Clock = std::function<std::int64_t()>;  // seconds since the epoch
  Pages(std::filesystem::path repos_dir, Settings settings, Renderer& renderer, Clock now);

  // Never throws: failures are pages (404, 400, 500) that say why.
  PageResponse handle(const PageRequest& req);

  const Settings& settings() const { return settings_; }

 private:
  PageResponse dispatch(const PageRequest& req);
  PageResponse index(const PageRequest& req);
  PageResponse overview(const PageRequest& req);
  PageResponse tree(const PageRequest& req);
  PageResponse blob(const PageRequest& req);
  PageResponse raw(const PageRequest& req);
  PageResponse commits(const PageRequest& req);
  PageResponse commit(const PageRequest& req);

  PageResponse render_page(std::uint32_t status, std::string title, const std::string& repo,
                           const char* tmpl, boost::json::object ctx);
  PageResponse message(std::uint32_t status, const std::string& repo, const std::string& heading,
                       const std::string& text);
  std::string markdown(std::string_view text, const std::string& link_base,
                       const std::string& image_base, bool* rendered);

  std::filesystem::path repos_dir_;
  Settings settings_;
  Renderer& renderer_;
  Clock now_;
  ActivityCache activity_;
};

// An embedded file of web/ ("browse.css"), empty if there is none.
std::string_view embedded(std::string_view name);

// A GET answered 302 to `location` (a tree asked for as a blob and the other way round).
PageResponse redirect(std::string location);

}  // namespace mesh::browse
