#include "pages.hpp"

#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>
#include <exception>

#include "browse_assets.hpp"
#include "limits.hpp"
#include "names.hpp"
#include "reader.hpp"
#include "views.hpp"

namespace mesh::browse {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::uint32_t status_of(Fail kind) {
  switch (kind) {
    case Fail::not_found:
      return 404;
    case Fail::invalid:
      return 400;
    case Fail::limit:
      return 413;
    default:
      return 500;
  }
}

// ?name=value from a query string (first occurrence), percent-decoded; empty if absent.
std::string query_param(std::string_view query, std::string_view name) {
  if (query.size() > kMaxQueryBytes) return "";
  auto params = boost::urls::parse_query(query);
  if (!params) return "";
  for (const auto& p : *params) {
    if (p.key == name) return p.has_value ? std::string(p.value) : std::string("1");
  }
  return "";
}

std::string short_ref(const Resolved& r) {
  return r.kind == Resolved::Kind::commit ? r.oid.substr(0, 10) : r.name;
}

// The ref in the bases handed to markdown_render: a name that needs percent-encoding ("a/b" as
// "a%2Fb") is replaced by its commit, because the host's link resolution decodes "%2F" into a
// path separator (a README image under feature/x would load from /raw/feature/x/...).
std::string base_ref(const Resolved& r) {
  return url_segment(r.name) == r.name ? r.name : r.oid;
}

const char* kind_text(Resolved::Kind k) {
  switch (k) {
    case Resolved::Kind::branch:
      return "branch";
    case Resolved::Kind::tag:
      return "tag";
    default:
      return "commit";
  }
}

// Headers of a /raw answer: the bytes can never run as a page of this origin.
std::vector<std::pair<std::string, std::string>> raw_headers(std::string type) {
  return {{"Content-Type", std::move(type)},
          {"Content-Security-Policy",
           "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Referrer-Policy", "same-origin"},
          {"Cache-Control", "no-cache"}};
}

}  // namespace

bool ActivityCache::get(const std::string& key, std::vector<std::uint32_t>* out) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  *out = it->second;
  return true;
}

void ActivityCache::put(const std::string& key, std::vector<std::uint32_t> counts) {
  std::lock_guard lock(mu_);
  if (map_.size() >= kMaxEntries) map_.clear();  // a day's worth of tips: start over
  map_[key] = std::move(counts);
}

std::string_view embedded(std::string_view name) {
  const browse_assets::File* f = browse_assets::find("web/" + std::string(name));
  return f ? f->data() : std::string_view();
}

PageResponse redirect(std::string location) {
  PageResponse r;
  r.page = false;
  r.status = 302;
  r.headers = {{"Location", location}, {"Content-Type", "text/plain; charset=utf-8"}};
  r.body = "see " + location + "\n";
  return r;
}

Pages::Pages(fs::path repos_dir, Settings settings, Renderer& renderer, Clock now)
    : repos_dir_(std::move(repos_dir)),
      settings_(settings),
      renderer_(renderer),
      now_(std::move(now)) {}

PageResponse Pages::handle(const PageRequest& req) {
  try {
    return dispatch(req);
  } catch (const std::exception& e) {
    return message(500, "", "This page failed", e.what());
  } catch (...) {
    return message(500, "", "This page failed", "unknown error");
  }
}

PageResponse Pages::dispatch(const PageRequest& req) {
  using K = PageRequest::Kind;
  if (req.kind == K::index) return index(req);
  if (req.kind == K::unknown) {
    std::error_code ec;
    const bool known = valid_repo_name(req.repo) &&
                       fs::is_directory(repos_dir_ / (req.repo + ".git") / "objects", ec);
    return message(404, known ? req.repo : "", "No such page",
                   known ? "There is no page at this address; this repo's pages are in the tabs "
                           "above."
                         : "There is no page at this address.");
  }
  if (!valid_repo_name(req.repo))
    return message(404, "", "No such repo",
                   "\"" + valid_utf8_prefix(req.repo, 200) + "\" is not a repo name.");
  switch (req.kind) {
    case K::overview:
      return overview(req);
    case K::tree:
      return tree(req);
    case K::blob:
      return blob(req);
    case K::raw:
      return raw(req);
    case K::commits:
      return commits(req);
    case K::commit:
      return commit(req);
    default:
      return message(404, "", "No such page", "There is no page at this address.");
  }
}

PageResponse Pages::render_page(std::uint32_t status, std::string title, const std::string& repo,
                                const char* tmpl, json::object ctx) {
  const browse_assets::File* f = browse_assets::find(std::string("web/") + tmpl);
  if (!f) return message(500, repo, "This page failed", std::string("no template ") + tmpl);
  std::string html, error;
  if (!renderer_.render(f->data(), json::serialize(ctx), &html, &error)) {
    PageResponse r;
    r.status = 500;
    r.title = "Rendering failed";
    r.repo = repo;
    r.tab = "Code";
    // Nothing of the context: the error comes from the host and may quote it.
    r.body_html = "<div class=\"flash-error\">This page could not be rendered.</div>";
    return r;
  }
  PageResponse r;
  r.status = status;
  r.title = std::move(title);
  r.repo = repo;
  r.tab = "Code";
  r.body_html = std::move(html);
  return r;
}

PageResponse Pages::message(std::uint32_t status, const std::string& repo,
                            const std::string& heading, const std::string& text) {
  json::object ctx{{"heading", valid_utf8(heading)}, {"text", valid_utf8(text)}};
  if (!repo.empty()) ctx["repo_href"] = view::repo_href(repo);
  const browse_assets::File* f = browse_assets::find("web/message.mustache");
  std::string html, error;
  PageResponse r;
  r.status = status;
  r.title = heading;
  r.repo = repo;
  r.tab = "Code";
  if (f && renderer_.render(f->data(), json::serialize(ctx), &html, &error)) {
    r.body_html = std::move(html);
  } else {
    r.body_html = "<div class=\"flash-error\">This page could not be rendered.</div>";
  }
  return r;
}

std::string Pages::markdown(std::string_view text, const std::string& link_base,
                            const std::string& image_base, bool* rendered) {
  std::string html;
  *rendered =
      renderer_.markdown(valid_utf8_prefix(text, kMaxReadmeBytes), link_base, image_base, &html);
  return *rendered ? html : std::string();
}

PageResponse Pages::index(const PageRequest&) {
  std::size_t total = 0;
  auto names = list_repos(repos_dir_, kMaxReposListed, &total);
  json::array rows;
  for (const auto& name : names) {
    Error err;
    auto repo = Repo::open(repos_dir_, name, &err);
    json::object row{{"name", name}, {"href", view::repo_href(name)}};
    if (!repo) {
      row["error"] = err.message;
      rows.push_back(std::move(row));
      continue;
    }
    RefList branches = repo->branches(0, &err);
    RefList tags = repo->tags(0, &err);
    row["branches"] = branches.total;
    row["tags"] = tags.total;
    const std::string def = repo->default_branch();
    if (!def.empty()) {
      if (auto r = repo->resolve(def, &err)) {
        bool more = false;
        auto last = repo->log(r->oid, 1, &more, &err);
        if (!last.empty()) row["last"] = view::commit_row(name, last.front());
        row["branch"] = def;
        const std::string key = name + "/" + r->oid + "/" + std::to_string(now_() / 86400);
        std::vector<std::uint32_t> counts;
        if (!activity_.get(key, &counts)) {
          counts = repo->activity(r->oid, now_(), kActivityDays, &err);
          activity_.put(key, counts);
        }
        row["activity"] = view::counts_text(counts);
        row["activity_total"] = view::counts_total(counts);
      }
    }
    rows.push_back(std::move(row));
  }
  json::object ctx{{"repos", std::move(rows)},
                   {"count", total},
                   {"truncated", total > names.size()},
                   {"shown", names.size()},
                   {"days", kActivityDays}};
  PageResponse page = render_page(200, "Repos", "", "repos.mustache", std::move(ctx));
  page.tab = "Repos";  // the node navigation entry to highlight
  return page;
}

PageResponse Pages::overview(const PageRequest& req) {
  Error err;
  auto repo = Repo::open(repos_dir_, req.repo, &err);
  if (!repo) return message(status_of(err.kind), "", "No such repo", err.message);
  std::string ref = req.ref.empty() ? repo->default_branch() : req.ref;
  json::object ctx{{"repo", req.repo}, {"repo_href", view::repo_href(req.repo)}};
  if (!req.base_url.empty()) ctx["clone_url"] = req.base_url + "/" + req.repo + ".git";
  if (ref.empty()) {
    ctx["empty"] = true;
    return render_page(200, req.repo, req.repo, "overview.mustache", std::move(ctx));
  }
  auto resolved = repo->resolve(ref, &err);
  if (!resolved) return message(status_of(err.kind), req.repo, "No such branch", err.message);
  RefList branches = repo->branches(kMaxRefsListed, &err);
  RefList tags = repo->tags(kMaxRefsListed, &err);
  bool more = false;
  auto log = repo->log(resolved->oid, kLogCommits, &more, &err);
  if (err) return message(status_of(err.kind), req.repo, "The log failed", err.message);
  auto root = repo->find(resolved->oid, {}, &err);
  if (!root) return message(status_of(err.kind), req.repo, "The files failed", err.message);
  TreeListing listing = repo->tree(root->oid, settings_.max_tree_entries, &err);

  const std::string shown = short_ref(*resolved);
  ctx["ref"] = shown;
  ctx["ref_kind"] = kind_text(resolved->kind);
  ctx["oid"] = resolved->oid;
  ctx["branches"] = view::ref_rows(req.repo, branches, resolved->name);
  ctx["branch_count"] = branches.total;
  ctx["branches_more"] = branches.total > branches.refs.size();
  ctx["tags"] = view::ref_rows(req.repo, tags, resolved->name);
  ctx["tag_count"] = tags.total;
  ctx["tags_more"] = tags.total > tags.refs.size();
  ctx["branches_shown"] = branches.refs.size();
  json::array commits;
  for (const auto& c : log) commits.push_back(view::commit_row(req.repo, c));
  if (!log.empty()) ctx["latest"] = view::commit_row(req.repo, log.front());
  ctx["commits"] = std::move(commits);
  ctx["commits_more"] = more;
  ctx["commits_href"] = view::ref_href(req.repo, "commits", resolved->name);
  ctx["entries"] = view::tree_rows(req.repo, resolved->name, {}, listing);
  ctx["entries_more"] = listing.total > listing.entries.size();
  ctx["entries_hidden"] = listing.total - listing.entries.size();
  ctx["tree_href"] = view::ref_href(req.repo, "tree", resolved->name);

  const std::string key = req.repo + "/" + resolved->oid + "/" + std::to_string(now_() / 86400);
  std::vector<std::uint32_t> counts;
  if (!activity_.get(key, &counts)) {
    Error aerr;
    counts = repo->activity(resolved->oid, now_(), kActivityDays, &aerr);
    activity_.put(key, counts);
  }
  ctx["activity"] = view::counts_text(counts);
  ctx["activity_total"] = view::counts_total(counts);
  ctx["days"] = kActivityDays;

  if (const TreeEntry* readme = view::find_readme(listing)) {
    Error rerr;
    auto b = repo->blob(readme->oid, kMaxReadmeBytes, &rerr);
    json::object r{{"name", valid_utf8(readme->name)},
                   {"href", view::ref_href(req.repo, "blob", resolved->name, {readme->name})}};
    if (b && !b->binary && !b->too_large) {
      bool rendered = false;
      if (view::is_markdown(readme->name)) {
        std::string html =
            markdown(b->data, view::ref_href(req.repo, "blob", base_ref(*resolved)) + "/",
                     view::ref_href(req.repo, "raw", base_ref(*resolved)) + "/", &rendered);
        if (rendered) r["html"] = std::move(html);
      }
      if (!rendered) r["text"] = valid_utf8(b->data);
      ctx["readme"] = std::move(r);
    }
  }
  std::string title = req.repo;
  if (!req.ref.empty()) title += " at " + shown;
  return render_page(200, std::move(title), req.repo, "overview.mustache", std::move(ctx));
}

PageResponse Pages::tree(const PageRequest& req) {
  if (req.path.empty()) {
    PageRequest o = req;
    o.kind = PageRequest::Kind::overview;
    return overview(o);
  }
  Error err;
  std::string why;
  auto path = split_repo_path(req.path, &why);
  if (!path) return message(400, req.repo, "Bad path", why);
  auto repo = Repo::open(repos_dir_, req.repo, &err);
  if (!repo) return message(status_of(err.kind), "", "No such repo", err.message);
  auto resolved = repo->resolve(req.ref, &err);
  if (!resolved) return message(status_of(err.kind), req.repo, "No such branch", err.message);
  if (path->empty()) return redirect(view::ref_href(req.repo, "tree", resolved->name));
  auto found = repo->find(resolved->oid, *path, &err);
  if (!found) return message(status_of(err.kind), req.repo, "Not found", err.message);
  if (found->kind != TreeEntry::Kind::tree)
    return redirect(view::ref_href(req.repo, "blob", resolved->name, *path));
  TreeListing listing = repo->tree(found->oid, settings_.max_tree_entries, &err);
  if (err) return message(status_of(err.kind), req.repo, "The files failed", err.message);
  json::object ctx{
      {"repo", req.repo},
      {"ref", short_ref(*resolved)},
      {"ref_kind", kind_text(resolved->kind)},
      {"path", valid_utf8(join_path(*path, path->size()))},
      {"crumbs", view::breadcrumbs(req.repo, resolved->name, *path)},
      {"entries", view::tree_rows(req.repo, resolved->name, *path, listing)},
      {"entries_more", listing.total > listing.entries.size()},
      {"entries_hidden", listing.total - listing.entries.size()},
      {"parent_href", view::ref_href(req.repo, "tree", resolved->name, *path, path->size() - 1)}};
  if (const TreeEntry* readme = view::find_readme(listing)) {
    auto b = repo->blob(readme->oid, kMaxReadmeBytes, &err);
    if (b && !b->binary && !b->too_large) {
      json::object r{{"name", valid_utf8(readme->name)}};
      bool rendered = false;
      if (view::is_markdown(readme->name)) {
        std::string html =
            markdown(b->data, view::ref_href(req.repo, "blob", base_ref(*resolved), *path) + "/",
                     view::ref_href(req.repo, "raw", base_ref(*resolved), *path) + "/", &rendered);
        if (rendered) r["html"] = std::move(html);
      }
      if (!rendered) r["text"] = valid_utf8(b->data);
      ctx["readme"] = std::move(r);
    }
  }
  return render_page(200, valid_utf8(join_path(*path, path->size())) + " · " + req.repo, req.repo,
                     "tree.mustache", std::move(ctx));
}

PageResponse Pages::blob(const PageRequest& req) {
  Error err;
  std::string why;
  auto path = split_repo_path(req.path, &why);
  if (!path) return message(400, req.repo, "Bad path", why);
  auto repo = Repo::open(repos_dir_, req.repo, &err);
  if (!repo) return message(status_of(err.kind), "", "No such repo", err.message);
  auto resolved = repo->resolve(req.ref, &err);
  if (!resolved) return message(status_of(err.kind), req.repo, "No such branch", err.message);
  if (path->empty()) return redirect(view::ref_href(req.repo, "tree", resolved->name));
  auto found = repo->find(resolved->oid, *path, &err);
  if (!found) return message(status_of(err.kind), req.repo, "Not found", err.message);
  if (found->kind == TreeEntry::Kind::tree)
    return redirect(view::ref_href(req.repo, "tree", resolved->name, *path));
  const std::string& name = path->back();
  json::object ctx{{"repo", req.repo},
                   {"ref", short_ref(*resolved)},
                   {"ref_kind", kind_text(resolved->kind)},
                   {"name", valid_utf8(name)},
                   {"path", valid_utf8(join_path(*path, path->size()))},
                   {"crumbs", view::breadcrumbs(req.repo, resolved->name, *path)},
                   {"raw_href", view::ref_href(req.repo, "raw", resolved->name, *path)},
                   {"href", view::ref_href(req.repo, "blob", resolved->name, *path)}};
  const std::string title = valid_utf8(join_path(*path, path->size())) + " · " + req.repo;
  if (found->kind == TreeEntry::Kind::submodule) {
    ctx["submodule"] = found->oid;
    return render_page(200, title, req.repo, "blob.mustache", std::move(ctx));
  }
  if (found->kind == TreeEntry::Kind::link) {
    auto target = repo->link_target(found->oid, &err);
    ctx["link"] = target ? *target : std::string("?");
    return render_page(200, title, req.repo, "blob.mustache", std::move(ctx));
  }
  auto b = repo->blob(found->oid, settings_.max_file_bytes, &err);
  if (!b) return message(status_of(err.kind), req.repo, "Not found", err.message);
  ctx["size"] = view::size_text(b->size);
  if (view::is_image(name) && b->size <= settings_.max_raw_bytes) {
    ctx["image"] = true;
  } else if (b->binary) {
    ctx["binary"] = true;
  } else if (b->too_large) {
    ctx["too_large"] = true;
    ctx["limit"] = view::size_text(settings_.max_file_bytes);
  } else if (b->size == 0) {
    ctx["empty"] = true;
  } else {
    const bool plain = !query_param(req.query, "plain").empty();
    bool rendered = false;
    if (view::is_markdown(name) && !plain && b->size <= kMaxReadmeBytes) {
      view::Segments dir(path->begin(), path->end() - 1);
      std::string html =
          markdown(b->data, view::ref_href(req.repo, "blob", base_ref(*resolved), dir) + "/",
                   view::ref_href(req.repo, "raw", base_ref(*resolved), dir) + "/", &rendered);
      if (rendered) {
        ctx["markdown"] = std::move(html);
        ctx["plain_href"] = view::ref_href(req.repo, "blob", resolved->name, *path) + "?plain=1";
      }
    }
    if (!rendered) {
      const std::size_t lines = view::line_count(b->data);
      ctx["text"] = valid_utf8(b->data);
      ctx["lines"] = lines;
      ctx["gutter"] = view::gutter_html(lines);
      if (view::is_markdown(name)) ctx["rendered_href"] = ctx["href"];
    }
  }
  return render_page(200, title, req.repo, "blob.mustache", std::move(ctx));
}

PageResponse Pages::raw(const PageRequest& req) {
  auto plain = [](std::uint32_t status, std::string text) {
    PageResponse r;
    r.page = false;
    r.status = status;
    r.headers = raw_headers("text/plain; charset=utf-8");
    r.body = std::move(text) + "\n";
    return r;
  };
  Error err;
  std::string why;
  auto path = split_repo_path(req.path, &why);
  if (!path || path->empty()) return plain(400, path ? "no file named" : why);
  auto repo = Repo::open(repos_dir_, req.repo, &err);
  if (!repo) return plain(status_of(err.kind), err.message);
  auto resolved = repo->resolve(req.ref, &err);
  if (!resolved) return plain(status_of(err.kind), err.message);
  auto found = repo->find(resolved->oid, *path, &err);
  if (!found) return plain(status_of(err.kind), err.message);
  if (found->kind != TreeEntry::Kind::blob) return plain(404, "not a file");
  auto b = repo->blob(found->oid, settings_.max_raw_bytes, &err);
  if (!b) return plain(status_of(err.kind), err.message);
  if (b->too_large)
    return plain(413, "the file is " + view::size_text(b->size) + ", over the " +
                          view::size_text(settings_.max_raw_bytes) +
                          " this node serves (clone the repo to read it)");
  PageResponse r;
  r.page = false;
  r.status = 200;
  r.headers = raw_headers(view::raw_type(path->back(), b->binary));
  r.body = std::move(b->data);
  return r;
}

PageResponse Pages::commits(const PageRequest& req) {
  Error err;
  auto repo = Repo::open(repos_dir_, req.repo, &err);
  if (!repo) return message(status_of(err.kind), "", "No such repo", err.message);
  auto resolved = repo->resolve(req.ref, &err);
  if (!resolved) return message(status_of(err.kind), req.repo, "No such branch", err.message);
  std::size_t page = 1;
  if (std::string p = query_param(req.query, "page"); !p.empty()) {
    if (p.size() > 4 || p.find_first_not_of("0123456789") != std::string::npos || p == "0")
      return message(400, req.repo, "Bad page", "page is a number from 1 to 9999");
    page = std::stoul(p);
  }
  // Older pages walk the newer ones again: the cap bounds the walk.
  if ((page - 1) * kLogCommits > kMaxActivityCommits)
    return message(400, req.repo, "Too far back",
                   "The web log shows the newest " + std::to_string(kMaxActivityCommits) +
                       " commits; clone the repo for older ones.");
  bool more = false;
  auto log = repo->log(resolved->oid, page * kLogCommits, &more, &err);
  if (err) return message(status_of(err.kind), req.repo, "The log failed", err.message);
  json::array rows;
  for (std::size_t i = (page - 1) * kLogCommits; i < log.size(); ++i)
    rows.push_back(view::commit_row(req.repo, log[i]));
  const std::string href = view::ref_href(req.repo, "commits", resolved->name);
  json::object ctx{{"repo", req.repo},
                   {"ref", short_ref(*resolved)},
                   {"ref_kind", kind_text(resolved->kind)},
                   {"tree_href", view::ref_href(req.repo, "tree", resolved->name)},
                   {"commits", std::move(rows)},
                   {"page", page}};
  if (more) ctx["older_href"] = href + "?page=" + std::to_string(page + 1);
  if (page > 1) ctx["newer_href"] = page == 2 ? href : href + "?page=" + std::to_string(page - 1);
  return render_page(200, "Commits · " + req.repo, req.repo, "commits.mustache", std::move(ctx));
}

PageResponse Pages::commit(const PageRequest& req) {
  Error err;
  auto repo = Repo::open(repos_dir_, req.repo, &err);
  if (!repo) return message(status_of(err.kind), "", "No such repo", err.message);
  auto id = repo->commit_id(req.sha, &err);
  if (!id) return message(status_of(err.kind), req.repo, "No such commit", err.message);
  if (*id != req.sha) return redirect(view::commit_href(req.repo, *id));
  auto c = repo->commit(*id, &err);
  if (!c) return message(status_of(err.kind), req.repo, "No such commit", err.message);
  auto stat = repo->diffstat(*id, settings_.max_diff_files, &err);
  if (!stat) return message(status_of(err.kind), req.repo, "The diff failed", err.message);
  json::object ctx = view::commit_row(req.repo, *c);
  ctx["repo"] = req.repo;
  // The body below the summary line.
  std::string_view m = c->message;
  auto nl = m.find('\n');
  std::string body = nl == std::string_view::npos ? "" : std::string(m.substr(nl + 1));
  while (!body.empty() && (body.front() == '\n' || body.front() == '\r')) body.erase(0, 1);
  while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
  if (!body.empty()) ctx["body"] = body;  // an empty string would still open {{#body}}
  ctx["message_cut"] = c->message_cut;
  ctx["committer"] = c->committer.name;
  ctx["committer_differs"] = c->committer.name != c->author.name;
  ctx["commit_date"] = view::date_text(c->committer.time);
  ctx["tree_href"] = view::ref_href(req.repo, "tree", *id);
  json::array parents;
  for (const auto& p : c->parents)
    parents.push_back(
        json::object{{"short", p.substr(0, 10)}, {"href", view::commit_href(req.repo, p)}});
  ctx["parents"] = std::move(parents);
  ctx["merge"] = c->parents.size() > 1;
  json::array files;
  std::size_t widest = 1;
  for (const auto& f : stat->files) widest = std::max(widest, f.additions + f.deletions);
  for (const auto& f : stat->files) {
    json::object row{{"path", valid_utf8(f.path)},
                     {"status", std::string(1, f.status)},
                     {"additions", f.additions},
                     {"deletions", f.deletions},
                     {"binary", f.binary}};
    if (!f.old_path.empty()) row["old_path"] = valid_utf8(f.old_path);
    row["href"] = false;  // set, so that the template does not find the commit's own href
    if (f.status != 'D') {
      std::string why;
      if (auto segs = split_repo_path(f.path, &why))
        row["href"] = view::ref_href(req.repo, "blob", *id, *segs);
    }
    // Five blocks, as git's --stat graph: green for additions, red for deletions.
    const std::size_t total = f.additions + f.deletions;
    std::size_t add_blocks = total ? (f.additions * 5 + widest - 1) / widest : 0;
    std::size_t del_blocks = total ? (f.deletions * 5 + widest - 1) / widest : 0;
    if (add_blocks + del_blocks > 5) del_blocks = 5 - std::min<std::size_t>(add_blocks, 5);
    json::array blocks;
    for (std::size_t i = 0; i < 5; ++i)
      blocks.push_back(json::object{{"cls", i < add_blocks                ? "add"
                                            : i < add_blocks + del_blocks ? "del"
                                                                          : "none"}});
    row["blocks"] = std::move(blocks);
    files.push_back(std::move(row));
  }
  ctx["files"] = std::move(files);
  ctx["file_count"] = stat->total_files;
  ctx["files_more"] = stat->total_files > stat->files.size();
  ctx["files_hidden"] = stat->total_files - stat->files.size();
  ctx["additions"] = stat->additions;
  ctx["deletions"] = stat->deletions;
  ctx["root"] = stat->against.empty();
  return render_page(200, valid_utf8_prefix(c->summary, 80) + " · " + req.repo, req.repo,
                     "commit.mustache", std::move(ctx));
}

}  // namespace mesh::browse
