// Downloads for the updater (libcurl): https with the system CA store (plain http only from a
// loopback host, see urls.hpp), a size limit on every response, a connect timeout, a stall
// timeout (no byte for too long) and a per-attempt deadline, and retries that resume a dropped
// transfer with a Range request (If-Range guarded, so two different files are never
// stitched). Redirects are followed by hand, each hop checked against the URL policy.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.hpp"

namespace mesh::updater {

// curl_global_init/cleanup, owned by whoever uses downloads (the plugin instance, a test).
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

struct DownloadOptions {
  std::uint64_t max_bytes = 512ull << 20;
  std::optional<std::uint64_t> expected_size;  // from metadata: shorter is resumed, longer refused
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds stall_timeout{30'000};  // ~1 s granularity (curl's progress ticks)
  std::chrono::milliseconds attempt_timeout{30 * 60'000};
  int max_attempts = 4;
  std::chrono::milliseconds retry_delay{1000};  // doubled after each failed attempt
  int max_redirects = 5;
  std::string ca_file;  // empty: the system CA store
  std::string user_agent = "mesh-updater";
  std::vector<std::string> headers;  // e.g. "Accept: application/vnd.github+json"
  // Called from the transferring thread with the bytes so far and the total when known.
  std::function<void(std::uint64_t done, std::optional<std::uint64_t> total)> progress;
  const std::atomic<bool>* cancel = nullptr;  // set to stop between two progress ticks
};

struct DownloadResult {
  std::uint64_t bytes = 0;
  int attempts = 0;
  bool resumed = false;       // some attempt continued where a dropped one stopped
  std::string effective_url;  // after redirects: what relative URLs in a document resolve against
};

// Downloads `url` to `dest` (through dest + ".part", renamed when complete). On failure
// neither file is left behind.
Result<DownloadResult> download_file(std::string_view url, const std::filesystem::path& dest,
                                     const DownloadOptions& options);

// The same into memory, for metadata and signatures (keep max_bytes small).
Result<std::string> fetch_text(std::string_view url, const DownloadOptions& options,
                               DownloadResult* info = nullptr);

}  // namespace mesh::updater
