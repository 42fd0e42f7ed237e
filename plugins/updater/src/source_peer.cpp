// A member's node as a release source: it serves the archives it holds (archive_store.hpp)
// on member-only routes; this side fetches them over peer connections the host opened and
// pinned. Only bytes: the caller verifies them against the release key like any download.
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "release.hpp"
#include "source.hpp"

namespace mesh::updater {
namespace fs = std::filesystem;
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxListing = 256 * 1024;
constexpr auto kAttemptDeadline = std::chrono::minutes(30);

class PeerSource final : public ReleaseSource {
 public:
  PeerSource(std::string label, Connector connect, FetchLimits limits,
             const std::atomic<bool>* cancel)
      : label_(std::move(label)), connect_(std::move(connect)), limits_(limits), cancel_(cancel) {}

  std::string describe() const override { return label_; }

  Result<Candidate> candidate(const std::optional<std::string>& tag) override {
    auto text = get_small(std::string(kPeerReleases), kMaxListing);
    if (!text) return text.error();
    boost::system::error_code ec;
    json::value doc = json::parse(*text, ec);
    const json::array* list = nullptr;
    if (!ec && doc.is_object()) {
      if (auto* a = doc.get_object().if_contains("archives"); a && a->is_array())
        list = &a->get_array();
    }
    if (!list) return make_error(Errc::invalid, label_ + " sent a malformed release list");
    std::optional<SemVer> wanted;
    if (tag) {
      auto v = parse_tag(*tag);
      if (!v) return v.error();
      wanted = *v;
    }
    std::optional<Candidate> best;
    std::string offered;
    for (const auto& e : *list) {
      if (!e.is_object()) continue;
      const auto& o = e.get_object();
      auto* name = o.if_contains("name");
      if (!name || !name->is_string()) continue;
      auto v = version_from_archive_name(std::string_view(name->get_string()), build_arch());
      if (!v) continue;
      offered += (offered.empty() ? "" : ", ") + v->str();
      if (wanted && !same_precedence(*v, *wanted)) continue;
      if (best && compare(*v, best->version) <= 0) continue;
      Candidate c;
      c.version = *v;
      c.archive_name = std::string(name->get_string());
      if (auto* s = o.if_contains("size"); s && s->is_int64() && s->get_int64() > 0)
        c.size = static_cast<std::uint64_t>(s->get_int64());
      if (auto* h = o.if_contains("sha256"); h && h->is_string()) {
        auto d = parse_sha256_hex(std::string_view(h->get_string()));
        if (d) c.sha256 = *d;
      }
      c.archive_ref = std::string(kPeerFiles) + c.archive_name;
      c.signature_ref = c.archive_ref + ".minisig";
      best = std::move(c);
    }
    if (!best) {
      std::string what = wanted ? "release " + *tag : "release";
      return make_error(Errc::not_found,
                        label_ + " holds no " + what + " for " + std::string(build_arch()) +
                            (offered.empty() ? "" : " (it holds: " + offered + ")"));
    }
    if (best->size && *best->size > limits_.max_archive_bytes) {
      return make_error(Errc::too_large, best->archive_name + " is larger than the limit");
    }
    return *best;
  }

  Result<std::string> signature(const Candidate& c) override {
    return get_small(c.signature_ref, limits_.max_signature_bytes);
  }

  Status download(const Candidate& c, const fs::path& dest, const Progress& progress) override {
    fs::path part = dest;
    part += ".part";
    std::error_code ec;
    fs::remove(part, ec);
    Status last = make_error(Errc::network, "no attempt made");
    auto delay = std::chrono::milliseconds(1000);
    for (int attempt = 1; attempt <= limits_.attempts; ++attempt) {
      last = attempt_once(c, part, progress);
      if (last) break;
      const Errc code = last.error().code;
      if (code != Errc::network && code != Errc::timeout) break;  // not worth a retry
      if (attempt < limits_.attempts) {
        for (auto end = std::chrono::steady_clock::now() + delay;
             std::chrono::steady_clock::now() < end && !cancelled();)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        delay *= 2;
      }
      if (cancelled()) {
        last = make_error(Errc::cancelled, "the download was stopped");
        break;
      }
    }
    if (!last) {
      fs::remove(part, ec);
      return last;
    }
    fs::rename(part, dest, ec);
    if (ec) {
      fs::remove(part, ec);
      return make_error(Errc::io, "cannot move the download into place: " + ec.message());
    }
    return {};
  }

 private:
  bool cancelled() const { return cancel_ && cancel_->load(); }

  static Status status_error(const std::string& label, const std::string& ref, int status) {
    if (status == 404) return make_error(Errc::not_found, label + " does not hold " + ref);
    if (status == 403) {
      return make_error(Errc::network, label +
                                           " refused the request (403): is this node a "
                                           "member there, and does it serve updates?");
    }
    if (status == 503 || status == 429 || status >= 500) {
      return make_error(Errc::network, label + " is busy (HTTP " + std::to_string(status) + ")");
    }
    return make_error(Errc::network,
                      label + " answered HTTP " + std::to_string(status) + " for " + ref);
  }

  Result<std::string> get_small(const std::string& ref, std::uint64_t max) {
    auto conn = connect_();
    if (!conn) return conn.error();
    std::string out;
    auto head = http_get(
        **conn, ref, std::nullopt, max,
        [&](const HttpHead& h) -> Status {
          if (h.status != 200) return status_error(label_, ref, h.status);
          return {};
        },
        [&](std::string_view piece) {
          out.append(piece);
          return !cancelled();
        });
    if (!head) return head.error();
    return out;
  }

  Status attempt_once(const Candidate& c, const fs::path& part, const Progress& progress) {
    std::error_code ec;
    std::uint64_t have = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
    if (ec) have = 0;
    auto conn = connect_();
    if (!conn) return conn.error();
    std::ofstream out;
    bool timed_out = false;
    const auto deadline = std::chrono::steady_clock::now() + kAttemptDeadline;
    auto head = http_get(
        **conn, c.archive_ref, have ? std::optional<std::uint64_t>(have) : std::nullopt,
        limits_.max_archive_bytes - have,
        [&](const HttpHead& h) -> Status {
          bool resumed = false;
          if (h.status == 206 && have) {
            // Only "bytes <have>-<end>/<len>" continues this file.
            std::string cr = h.header("content-range");
            std::string want = "bytes " + std::to_string(have) + "-";
            if (cr.rfind(want, 0) != 0) {
              return make_error(Errc::network,
                                label_ + " resumed at the wrong offset (" + cr + ")");
            }
            resumed = true;
          } else if (h.status != 200) {
            return status_error(label_, c.archive_ref, h.status);
          }
          if (!resumed) have = 0;
          out.open(part,
                   resumed ? std::ios::binary | std::ios::app : std::ios::binary | std::ios::trunc);
          if (!out) return make_error(Errc::io, "cannot write " + part.string());
          return {};
        },
        [&](std::string_view piece) {
          out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
          have += piece.size();
          if (progress) progress(have, c.size);
          if (std::chrono::steady_clock::now() > deadline) {
            timed_out = true;
            return false;
          }
          if (c.size && have > *c.size) return false;
          return out.good() && !cancelled();
        });
    out.close();
    if (timed_out)
      return make_error(Errc::timeout, "the transfer from " + label_ + " took too long");
    if (!head) {
      if (head.error().code == Errc::cancelled && c.size && have > *c.size) {
        return make_error(Errc::mismatch, label_ + " sent more than the " +
                                              std::to_string(*c.size) + " bytes it announced");
      }
      return head.error();
    }
    if (!out) return make_error(Errc::io, "cannot write " + part.string());
    if (c.size && have < *c.size) {
      return make_error(Errc::network, "the transfer from " + label_ + " ended after " +
                                           std::to_string(have) + " of " + std::to_string(*c.size) +
                                           " bytes");
    }
    return {};
  }

  std::string label_;
  Connector connect_;
  FetchLimits limits_;
  const std::atomic<bool>* cancel_;
};

}  // namespace

std::unique_ptr<ReleaseSource> make_peer_source(std::string label, Connector connect,
                                                FetchLimits limits,
                                                const std::atomic<bool>* cancel) {
  return std::make_unique<PeerSource>(std::move(label), std::move(connect), limits, cancel);
}

}  // namespace mesh::updater
