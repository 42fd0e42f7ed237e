// Where release files come from: a GitHub-shaped release source over HTTPS (libcurl), or a
// member's node over a peer connection. Both only deliver bytes; prepare.hpp verifies them
// the same way against the release key, whichever delivered them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "digest.hpp"
#include "errors.hpp"
#include "peer_http.hpp"
#include "semver.hpp"

namespace mesh::updater {

// A release as a source offers it for this platform. Sizes and digests are untrusted hints
// (checked if present); the signature decides.
struct Candidate {
  SemVer version;
  std::string archive_name;  // mesh-<version>-linux-<arch>.tar.gz
  std::optional<std::uint64_t> size;
  std::optional<Sha256> sha256;
  std::string archive_ref;    // URL or path on the source, for the archive
  std::string signature_ref;  // ditto for its .minisig
};

using Progress = std::function<void(std::uint64_t done, std::optional<std::uint64_t> total)>;

struct FetchLimits {
  std::uint64_t max_archive_bytes = 512ull << 20;
  std::uint64_t max_signature_bytes = 16384;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds stall_timeout{30'000};
  int attempts = 4;
};

class ReleaseSource {
 public:
  virtual ~ReleaseSource() = default;
  // For messages and `--json` "source": the URL, or "peer NAME (mesh:...)".
  virtual std::string describe() const = 0;
  // The newest release, or the one tagged `tag` ("v1.2.3").
  virtual Result<Candidate> candidate(const std::optional<std::string>& tag) = 0;
  virtual Result<std::string> signature(const Candidate& c) = 0;
  // Downloads the archive to `dest` (nothing left behind on failure).
  virtual Status download(const Candidate& c, const std::filesystem::path& dest,
                          const Progress& progress) = 0;
};

// <source>/releases/latest and /releases/tags/<tag>, as GitHub serves them.
std::unique_ptr<ReleaseSource> make_http_source(std::string source_url, FetchLimits limits,
                                                const std::atomic<bool>* cancel);

// A member's node: GET /updater/v1/releases and /updater/v1/files/<name> over connections
// that `connect` opens (pinned to that member by the host).
using Connector = std::function<Result<std::unique_ptr<ByteStream>>()>;
std::unique_ptr<ReleaseSource> make_peer_source(std::string label, Connector connect,
                                                FetchLimits limits,
                                                const std::atomic<bool>* cancel);

// The routes a node serves to members (plugin.cpp registers them).
inline constexpr std::string_view kPeerRoute = "/updater/v1";
inline constexpr std::string_view kPeerReleases = "/updater/v1/releases";
inline constexpr std::string_view kPeerFiles = "/updater/v1/files/";

}  // namespace mesh::updater
