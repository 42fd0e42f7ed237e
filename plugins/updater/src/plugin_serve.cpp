// The updater's member side: what this node tells others (heartbeat), how it finds and reaches
// a member, and the routes that serve the archives it holds to members.
#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <charconv>

#include "plugin_context.hpp"
#include "release.hpp"

namespace mesh::updater {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxServing = 4;  // concurrent archive transfers to members

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A host peer connection as the HTTP client's byte stream.
class PeerStream final : public ByteStream {
 public:
  explicit PeerStream(sdk::PeerConn c) : c_(std::move(c)) {}
  long read(char* buf, std::size_t cap) override {
    auto n = c_.read(buf, cap);
    return n < 0 ? -1 : static_cast<long>(n);
  }
  bool write(std::string_view data) override { return c_.write(data) == MESH_OK; }

 private:
  sdk::PeerConn c_;
};

}  // namespace

FetchLimits PluginContext::limits() const {
  FetchLimits l;
  l.max_archive_bytes = settings.max_archive_bytes;
  l.connect_timeout = settings.connect_timeout;
  l.stall_timeout = settings.stall_timeout;
  l.attempts = settings.attempts;
  return l;
}

std::vector<PeerInfo> PluginContext::peers() const {
  std::vector<PeerInfo> out;
  boost::system::error_code ec;
  json::value doc = json::parse(host.peers_json(), ec);
  if (ec || !doc.is_array()) return out;
  for (const auto& e : doc.get_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.get_object();
    PeerInfo p;
    p.name = str(o, "name");
    p.id = str(o, "id");
    p.up = str(o, "state") == "up";
    if (auto* a = o.if_contains("addresses"); a && a->is_array()) {
      for (const auto& x : a->get_array())
        if (x.is_string()) p.addresses.emplace_back(x.get_string());
    }
    const json::value* mine = nullptr;
    if (auto* pl = o.if_contains("plugins"); pl && pl->is_object())
      mine = pl->get_object().if_contains("updater");
    if (mine && mine->is_object()) {
      p.version = str(mine->get_object(), "version");
      if (auto* s = mine->get_object().if_contains("serves"); s && s->is_array()) {
        for (const auto& x : s->get_array())
          if (x.is_string() && parse_semver(std::string_view(x.get_string())))
            p.serves.emplace_back(x.get_string());
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<PeerInfo> PluginContext::find_peer(const std::string& who) const {
  auto all = peers();
  std::vector<const PeerInfo*> hits;
  for (const auto& p : all) {
    if (p.name == who || p.id == who) return p;
  }
  for (const auto& p : all) {
    if (who.size() >= 8 && p.id.rfind(who, 0) == 0) hits.push_back(&p);
  }
  if (hits.size() == 1) return *hits.front();
  std::string names;
  for (const auto& p : all) names += (names.empty() ? "" : ", ") + p.name;
  return make_error(Errc::not_found,
                    "no member '" + who + "'" +
                        (hits.size() > 1 ? " (the id prefix is ambiguous)" : "") +
                        (names.empty() ? "; this node has no members yet" : "; members: " + names));
}

std::unique_ptr<ReleaseSource> PluginContext::peer_source(const PeerInfo& peer) const {
  auto h = host;
  auto timeout = static_cast<std::uint32_t>(settings.stall_timeout.count());
  Connector connect = [h, peer, timeout]() -> Result<std::unique_ptr<ByteStream>> {
    if (peer.addresses.empty()) {
      return make_error(Errc::network, "no known address for member " + peer.name);
    }
    std::string errors;
    for (const auto& addr : peer.addresses) {
      sdk::PeerConn c;
      std::string err;
      if (c.connect(h, addr, peer.id, timeout, &err) == MESH_OK) {
        return std::unique_ptr<ByteStream>(std::make_unique<PeerStream>(std::move(c)));
      }
      errors += (errors.empty() ? "" : "; ") + addr + ": " + err;
    }
    return make_error(Errc::network, "cannot reach member " + peer.name + " (" + errors + ")");
  };
  return make_peer_source("peer " + peer.name + " (" + peer.id + ")", std::move(connect), limits(),
                          &cancel);
}

std::string PluginContext::heartbeat_json() const {
  json::array serves;
  if (settings.serve && store) {
    for (const auto& h : store->list()) serves.emplace_back(h.version.str());
  }
  return json::serialize(json::object{
      {"version", running.str()}, {"arch", std::string(build_arch())}, {"serves", serves}});
}

// ---- serving ----

void PeerServer::handle(const sdk::HttpRequest& req, sdk::HttpStream stream) {
  std::string path(req.path());
  std::string range(req.header("range"));
  std::lock_guard lock(mu_);
  // Finished transfers give their slot back.
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->second->load()) {
      it->first.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (stopped_ || workers_.size() >= kMaxServing) {
    stream.respond(sdk::HttpResponse::text(503, "busy: too many update downloads at once\n"));
    return;
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  workers_.emplace_back(
      std::thread([this, path = std::move(path), range = std::move(range), stream, done] {
        serve(path, range, stream);
        *done = true;
      }),
      done);
}

void PeerServer::stop() {
  std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> workers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    workers.swap(workers_);
  }
  for (auto& w : workers) w.first.join();
}

void PeerServer::serve(std::string path, std::string range, sdk::HttpStream s) {
  if (!ctx_.settings.serve || !ctx_.store) {
    s.respond(sdk::HttpResponse::text(404, "this node does not serve updates\n"));
    return;
  }
  if (path == kPeerReleases) {
    json::array list;
    for (const auto& h : ctx_.store->list()) {
      json::object o{{"version", h.version.str()},
                     {"name", h.name},
                     {"size", static_cast<std::int64_t>(h.size)}};
      if (!h.sha256_hex.empty()) o["sha256"] = h.sha256_hex;
      list.push_back(std::move(o));
    }
    s.respond(sdk::HttpResponse::json(
        200, json::serialize(json::object{{"version", ctx_.running.str()},
                                          {"arch", std::string(build_arch())},
                                          {"archives", list}})));
    return;
  }
  std::optional<fs::path> file;
  if (path.rfind(kPeerFiles, 0) == 0) file = ctx_.store->servable(path.substr(kPeerFiles.size()));
  if (!file) {
    s.respond(sdk::HttpResponse::text(404, "no such file here\n"));
    return;
  }
  int fd = ::open(file->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  off_t size = fd >= 0 ? ::lseek(fd, 0, SEEK_END) : -1;
  if (fd < 0 || size < 0) {
    if (fd >= 0) ::close(fd);
    s.respond(sdk::HttpResponse::text(500, "cannot read the file\n"));
    return;
  }
  // "bytes=N-" only: what a resuming member sends.
  std::uint64_t from = 0;
  bool partial = false;
  if (range.rfind("bytes=", 0) == 0 && range.back() == '-') {
    std::string_view n(range.data() + 6, range.size() - 7);
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), from);
    partial = ec == std::errc() && p == n.data() + n.size();
  }
  if (partial && from >= static_cast<std::uint64_t>(size)) {
    ::close(fd);
    s.respond(sdk::HttpResponse::text(416, "range not satisfiable\n"));
    return;
  }
  if (!partial) from = 0;
  sdk::Headers headers{{"Content-Type", "application/octet-stream"}};
  if (partial) {
    headers.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" +
                                              std::to_string(size - 1) + "/" +
                                              std::to_string(size));
  }
  bool ok = s.begin(partial ? 206 : 200, headers) == MESH_OK &&
            ::lseek(fd, static_cast<off_t>(from), SEEK_SET) >= 0;
  char buf[64 * 1024];
  while (ok && !ctx_.cancel.load()) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    ok = s.write(std::string_view(buf, static_cast<std::size_t>(n))) == MESH_OK;
  }
  ::close(fd);
  s.end(ok && !ctx_.cancel.load());
}

}  // namespace mesh::updater
