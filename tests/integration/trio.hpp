// Three paired daemons (alice, bob, carol) for cross-node tests, plus git helpers that drive the
// real git client against them with a private HOME (no user or system config leaks in).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace mesh::test {

inline std::string invite(const Node& n) {
  auto doc = n.mesh_json({"invite"});
  return doc.is_object() ? std::string(doc.at("token").as_string()) : "";
}

// Members `mesh peers --json` on n lists with `key` set to `value`.
inline std::set<std::string> peers_with(const Node& n, const char* key, const char* value) {
  auto p = n.mesh({"--json", "peers"});
  std::set<std::string> out;
  if (p.exit != 0) return out;
  boost::system::error_code ec;
  auto v = boost::json::parse(p.out, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    const auto* field = e.as_object().if_contains(key);
    if (field && *field == value) out.insert(std::string(e.at("name").as_string()));
  }
  return out;
}

// Members n lists as up (heard from, directly or through a relay).
inline std::set<std::string> up_peers(const Node& n) {
  return peers_with(n, "state", "up");
}

// Members n is linked to directly (reach "direct"), up or not.
inline std::set<std::string> linked_peers(const Node& n) {
  return peers_with(n, "reach", "direct");
}

// How n reaches the member called `name`: "direct", "relay", "none" ("" if not listed).
inline std::string peer_reach(const Node& n, const std::string& name) {
  auto doc = n.mesh_json({"peers"});
  if (!doc.is_array()) return "";
  for (const auto& p : doc.as_array()) {
    if (p.at("name").as_string() == name) return std::string(p.at("reach").as_string());
  }
  return "";
}

// What each node says of its peers and links: printed when pairing does not complete.
std::string pairing_report(const std::vector<const Node*>& nodes);

struct Trio {
  TempDir dir;
  Node a{dir.path(), "alice"}, b{dir.path(), "bob"}, c{dir.path(), "carol"};
  std::filesystem::path home = dir.path() / "home";

  explicit Trio(const std::string& tag, const std::vector<std::string>& plugins = {"replication"},
                const std::string& extra = "")
      : dir(tag) {
    for (Node* n : {&a, &b, &c}) n->write_config(plugins, extra);
    std::filesystem::create_directories(home);
  }
  std::vector<Node*> all() { return {&a, &b, &c}; }
  // Starts all three, pairs A-B and B-C, and waits until everyone sees everyone up over a link
  // of its own (up alone can be heartbeats relayed by B: a test that then stops B would find
  // A and C cut off from each other).
  void start_and_pair() {
    for (Node* n : all()) {
      auto p = n->start();
      ASSERT_EQ(p.exit, 0) << n->name() << ": " << p.err;
    }
    ASSERT_EQ(b.mesh({"join", invite(a)}).exit, 0);
    ASSERT_EQ(c.mesh({"join", invite(b)}).exit, 0);
    ASSERT_TRUE(eventually(
        [&] {
          return up_peers(a) == std::set<std::string>{"bob", "carol"} &&
                 up_peers(b) == std::set<std::string>{"alice", "carol"} &&
                 up_peers(c) == std::set<std::string>{"alice", "bob"} &&
                 linked_peers(a) == std::set<std::string>{"bob", "carol"} &&
                 linked_peers(c) == std::set<std::string>{"alice", "bob"};
        },
        std::chrono::seconds(90)))  // generous: a loaded sanitizer run once needed more than 45
        << pairing_report({&a, &b, &c});
  }

  // The real git client, isolated from the user's configuration.
  Proc git(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) const {
    std::vector<std::string> argv{"git"};
    if (!cwd.empty()) argv.insert(argv.end(), {"-C", cwd.string()});
    argv.insert(argv.end(), {"-c", "user.name=t", "-c", "user.email=t@example.com", "-c",
                             "init.defaultBranch=main", "-c", "protocol.version=2"});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"},
               std::chrono::seconds(120));
  }
  // git with sslVerify off for exactly this node's https URL (what `mesh ssl` sets).
  Proc git_to(const Node& n, const std::vector<std::string>& args,
              const std::filesystem::path& cwd) const {
    std::vector<std::string> a{
        "-c", "http.https://localhost:" + std::to_string(n.port()) + ".sslVerify=false"};
    a.insert(a.end(), args.begin(), args.end());
    return git(a, cwd);
  }
  static std::string https(const Node& n, const std::string& repo) {
    return "https://localhost:" + std::to_string(n.port()) + "/" + repo + ".git";
  }
  static std::string http(const Node& n, const std::string& repo) {
    return "http://127.0.0.1:" + std::to_string(n.port()) + "/" + repo + ".git";
  }
  // A work repo with `commits` empty commits on main.
  std::filesystem::path make_repo(const std::string& name, int commits) {
    auto path = dir.path() / ("work-" + name);
    EXPECT_EQ(git({"init", "-q", path.string()}).exit, 0);
    for (int i = 0; i < commits; ++i) commit(path, "c" + std::to_string(i));
    return path;
  }
  std::string commit(const std::filesystem::path& repo, const std::string& msg) {
    // One new file per commit: concurrent lines of work merge without conflicts.
    std::ofstream(repo / (msg + ".txt")) << msg << "\n";
    EXPECT_EQ(git({"add", msg + ".txt"}, repo).exit, 0);
    EXPECT_EQ(git({"commit", "-q", "-m", msg}, repo).exit, 0);
    return rev(repo, "HEAD");
  }
  std::string rev(const std::filesystem::path& repo, const std::string& what) const {
    auto p = git({"rev-parse", what}, repo);
    std::string s = p.out;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
};

// refs of `repo` as `mesh repos --json` reports them on n; empty if absent.
inline std::map<std::string, std::string> refs_of(const Node& n, const std::string& repo) {
  std::map<std::string, std::string> out;
  auto p = n.mesh({"--json", "repos"});
  if (p.exit != 0) return out;
  boost::system::error_code ec;
  auto v = boost::json::parse(p.out, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& r : v.as_array()) {
    if (r.at("name").as_string() != repo) continue;
    for (const auto& [ref, oid] : r.at("refs").as_object()) {
      out[std::string(ref)] = std::string(oid.as_string());
    }
  }
  return out;
}

// True when every node of the trio reports exactly `want` as the refs of `repo`.
inline bool same_refs_everywhere(Trio& t, const std::string& repo,
                                 const std::map<std::string, std::string>& want) {
  for (Node* n : t.all()) {
    if (refs_of(*n, repo) != want) return false;
  }
  return true;
}

// A work repo `repo` with one commit on main, pushed to `to` and waited for until every node
// of t has it (a test's starting point). Fails the test (and returns the path anyway) if not.
inline std::filesystem::path seeded_repo(Trio& t, Node& to, const std::string& repo) {
  auto work = t.make_repo(repo, 1);
  EXPECT_EQ(t.git_to(to, {"push", "-q", Trio::https(to, repo), "main"}, work).exit, 0);
  const std::string tip = t.rev(work, "HEAD");
  EXPECT_TRUE(eventually(
      [&] { return same_refs_everywhere(t, repo, {{"refs/heads/main", tip}}); },
      std::chrono::seconds(60)))
      << repo << " did not reach every node";
  return work;
}

// n's status page (loopback, http); empty if it could not be fetched.
inline std::string page_of(const Node& n) {
  auto p = run({"curl", "-s", "-f", n.http_url("/")});
  return p.exit == 0 ? p.out : "";
}

// The <tr> of an HTML table that has `cell` as a cell; empty if none.
inline std::string row_with(const std::string& html, const std::string& cell) {
  auto at = html.find("<td>" + cell + "</td>");
  if (at == std::string::npos) return {};
  auto begin = html.rfind("<tr", at);
  auto end = html.find("</tr>", at);
  if (begin == std::string::npos || end == std::string::npos) return {};
  return html.substr(begin, end - begin);
}

// Everything n's daemon has logged so far (<root>/logs/*.log, rotated files included).
inline std::string log_text(const Node& n) {
  std::string out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(n.root() / "logs", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".log") continue;
    std::ifstream in(it->path(), std::ios::binary);
    out.append(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

// The lines of n's log that contain `needle`.
inline std::vector<std::string> log_lines_with(const Node& n, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(log_text(n));
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

inline std::string pairing_report(const std::vector<const Node*>& nodes) {
  std::string out;
  for (const Node* n : nodes) {
    auto p = n->mesh({"--json", "peers"});
    out += "== " + n->name() + ": mesh peers exit " + std::to_string(p.exit) + "\n" + p.out + p.err;
    auto lines = log_lines_with(*n, "links: ");
    for (const auto& l : log_lines_with(*n, "team: ")) lines.push_back(l);
    if (lines.size() > 30) lines.erase(lines.begin(), lines.end() - 30);
    for (const auto& l : lines) out += "  " + l + "\n";
  }
  return out;
}

// `mesh repos --json` divergences of `repo` on n.
inline boost::json::array divergences_of(const Node& n, const std::string& repo) {
  auto p = n.mesh({"--json", "repos"});
  boost::system::error_code ec;
  auto v = boost::json::parse(p.out, ec);
  if (ec || !v.is_array()) return {};
  for (const auto& r : v.as_array()) {
    if (r.at("name").as_string() == repo) return r.at("divergences").as_array();
  }
  return {};
}

}  // namespace mesh::test
