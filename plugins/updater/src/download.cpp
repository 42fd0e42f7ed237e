#include "download.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "fsutil.hpp"
#include "urls.hpp"

namespace mesh::updater {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

CurlGlobal::CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}
CurlGlobal::~CurlGlobal() {
  if (ok_) curl_global_cleanup();
}

namespace {

// Where the bytes go: a file or a string. Both can start over and grow.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status truncate() = 0;
  virtual Status append(const char* data, std::size_t len) = 0;
  virtual std::uint64_t size() const = 0;
};

class FileSink final : public Sink {
 public:
  explicit FileSink(int fd) : fd_(fd) {}
  Status truncate() override {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
      return make_error(Errc::io, std::string("cannot truncate: ") + std::strerror(errno));
    }
    size_ = 0;
    return {};
  }
  Status append(const char* data, std::size_t len) override {
    while (len > 0) {
      ssize_t n = ::write(fd_, data, len);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return make_error(Errc::io, std::string("cannot write: ") + std::strerror(errno));
      data += n;
      len -= static_cast<std::size_t>(n);
      size_ += static_cast<std::uint64_t>(n);
    }
    return {};
  }
  std::uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::uint64_t size_ = 0;
};

class MemorySink final : public Sink {
 public:
  Status truncate() override {
    data_.clear();
    return {};
  }
  Status append(const char* data, std::size_t len) override {
    data_.append(data, len);
    return {};
  }
  std::uint64_t size() const override { return data_.size(); }
  std::string take() { return std::move(data_); }

 private:
  std::string data_;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// One HTTP exchange and what its callbacks saw.
struct Exchange {
  Sink* sink = nullptr;
  const DownloadOptions* opts = nullptr;
  std::uint64_t requested_offset = 0;
  // Response headers (reset at every status line: redirects and 100-continue send several).
  long status = 0;
  std::optional<std::uint64_t> range_start;
  std::optional<std::uint64_t> range_total;
  std::string etag;
  std::string last_modified;
  bool body_started = false;
  std::uint64_t body_base = 0;  // sink size when this response's body began
  // Why a callback stopped the transfer.
  enum class Abort {
    none,
    too_large,
    stalled,
    cancelled,
    bad_range,
    write_failed
  } abort = Abort::none;
  std::string abort_message;
  // Stall detection.
  curl_off_t last_now = -1;
  Clock::time_point last_change = Clock::now();
};

size_t on_header(char* buf, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string_view line(buf, size * n);
  if (line.starts_with("HTTP/")) {
    auto sp = line.find(' ');
    x->status =
        sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    x->range_start.reset();
    x->range_total.reset();
    x->etag.clear();
    x->last_modified.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = lower(trim(line.substr(0, colon)));
  std::string_view value = trim(line.substr(colon + 1));
  if (name == "etag") {
    x->etag = std::string(value.substr(0, 200));
  } else if (name == "last-modified") {
    x->last_modified = std::string(value.substr(0, 100));
  } else if (name == "content-range") {
    // "bytes <start>-<end>/<total|*>"
    unsigned long long start = 0, end = 0, total = 0;
    std::string v(value.substr(0, 100));
    if (std::sscanf(v.c_str(), "bytes %llu-%llu/%llu", &start, &end, &total) == 3) {
      x->range_start = start;
      x->range_total = total;
    } else if (std::sscanf(v.c_str(), "bytes %llu-%llu/*", &start, &end) == 2) {
      x->range_start = start;
    }
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::size_t len = size * n;
  if (x->status >= 300 && x->status < 400) return len;  // a redirect's own body
  if (!x->body_started) {
    x->body_started = true;
    if (x->status == 206) {
      if (!x->range_start || *x->range_start != x->requested_offset) {
        x->abort = Exchange::Abort::bad_range;
        x->abort_message = "the server answered the range request with another range";
        return 0;
      }
    } else if (x->sink->size() > 0) {
      // A 200 to a Range (or If-Range) request: the whole file again, from its start.
      if (auto st = x->sink->truncate(); !st) {
        x->abort = Exchange::Abort::write_failed;
        x->abort_message = st.error().message;
        return 0;
      }
    }
    x->body_base = x->sink->size();
  }
  if (x->sink->size() + len > x->opts->max_bytes) {
    x->abort = Exchange::Abort::too_large;
    x->abort_message =
        "the response is over the limit of " + std::to_string(x->opts->max_bytes) + " bytes";
    return 0;
  }
  if (auto st = x->sink->append(data, len); !st) {
    x->abort = Exchange::Abort::write_failed;
    x->abort_message = st.error().message;
    return 0;
  }
  return len;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* x = static_cast<Exchange*>(user);
  auto now = Clock::now();
  if (dlnow != x->last_now) {
    x->last_now = dlnow;
    x->last_change = now;
  } else if (now - x->last_change > x->opts->stall_timeout) {
    x->abort = Exchange::Abort::stalled;
    x->abort_message = "no data for " + std::to_string(x->opts->stall_timeout.count()) + " ms";
    return 1;
  }
  if (x->opts->cancel && x->opts->cancel->load()) {
    x->abort = Exchange::Abort::cancelled;
    x->abort_message = "cancelled";
    return 1;
  }
  if (x->opts->progress && x->body_started) {
    std::optional<std::uint64_t> total = x->opts->expected_size;
    if (!total && x->range_total) total = x->range_total;
    if (!total && dltotal > 0) total = x->body_base + static_cast<std::uint64_t>(dltotal);
    x->opts->progress(x->sink->size(), total);
  }
  return 0;
}

struct CurlHandle {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  ~CurlHandle() {
    if (headers) curl_slist_free_all(headers);
    if (h) curl_easy_cleanup(h);
  }
};

enum class Next { done, retry, fail };
struct Outcome {
  Next next;
  Error error{Errc::network, ""};
};

// Validators of the first full response, so that a resumed request asks "only if unchanged".
struct Validator {
  std::string if_range;
};

Outcome http_error(long code, const std::string& url, std::uint64_t offset, Sink& sink) {
  std::string what = "HTTP " + std::to_string(code) + " from " + url;
  if (code == 404 || code == 410) return {Next::fail, make_error(Errc::not_found, what)};
  if (code == 416 && offset > 0) {
    // The partial file no longer fits the resource: start over.
    if (auto st = sink.truncate(); !st) return {Next::fail, st.error()};
    return {Next::retry, make_error(Errc::network, what)};
  }
  bool transient = code == 408 || code == 429 || code >= 500;
  return {transient ? Next::retry : Next::fail, make_error(Errc::network, what)};
}

Outcome curl_error(CURLcode rc, const char* errbuf, const std::string& url) {
  std::string what = url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc));
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return {Next::retry, make_error(Errc::timeout, what)};
    case CURLE_FILESIZE_EXCEEDED:
      return {Next::fail, make_error(Errc::too_large, what)};
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return {Next::fail, make_error(Errc::invalid, what)};
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CONNECT_ERROR:
      return {Next::fail, make_error(Errc::network, "TLS: " + what)};
    default:
      return {Next::retry, make_error(Errc::network, what)};
  }
}

// The URL policy once more, with curl's own parser: what curl connects to is what was checked.
Status curl_agrees(const std::string& url) {
  CURLU* u = curl_url();
  if (!u) return make_error(Errc::io, "curl_url failed");
  char* scheme = nullptr;
  char* host = nullptr;
  bool ok = curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
  if (ok) {
    std::string s = scheme;
    ok = s == "https" || (s == "http" && is_loopback_host(host));
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  if (!ok) return make_error(Errc::invalid, "'" + url + "': refused by the URL policy");
  return {};
}

// One attempt: the request and its redirects, each hop checked against the URL policy.
Outcome attempt(const std::string& start_url, Sink& sink, const DownloadOptions& opts,
                Validator& validator, DownloadResult& result) {
  std::string url = start_url;
  for (int hop = 0; hop <= opts.max_redirects; ++hop) {
    if (auto st = curl_agrees(url); !st) return {Next::fail, st.error()};
    CurlHandle c;
    if (!c.h) return {Next::fail, make_error(Errc::io, "curl_easy_init failed")};
    Exchange x;
    x.sink = &sink;
    x.opts = &opts;
    x.requested_offset = sink.size();
    char errbuf[CURL_ERROR_SIZE] = {0};
    bool loopback_http = url.starts_with("http://");
    curl_easy_setopt(c.h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, loopback_http ? "http" : "https");
    curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c.h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(opts.connect_timeout.count()));
    curl_easy_setopt(c.h, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.attempt_timeout.count()));
    curl_easy_setopt(c.h, CURLOPT_USERAGENT, opts.user_agent.c_str());
    curl_easy_setopt(c.h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!opts.ca_file.empty()) curl_easy_setopt(c.h, CURLOPT_CAINFO, opts.ca_file.c_str());
    curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c.h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c.h, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c.h, CURLOPT_NOPROGRESS, 0L);
    for (const auto& h : opts.headers) c.headers = curl_slist_append(c.headers, h.c_str());
    std::string range;
    if (x.requested_offset > 0) {
      range = std::to_string(x.requested_offset) + "-";
      curl_easy_setopt(c.h, CURLOPT_RANGE, range.c_str());
      if (!validator.if_range.empty()) {
        c.headers = curl_slist_append(c.headers, ("If-Range: " + validator.if_range).c_str());
      }
    } else {
      curl_easy_setopt(c.h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(opts.max_bytes));
    }
    if (c.headers) curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);

    CURLcode rc = curl_easy_perform(c.h);
    long code = 0;
    curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &code);
    if (x.body_started && x.status >= 200 && x.status < 300) {
      // A strong ETag, else Last-Modified, guards the next attempt's range.
      if (!x.etag.empty() && !x.etag.starts_with("W/")) {
        validator.if_range = x.etag;
      } else if (!x.last_modified.empty()) {
        validator.if_range = x.last_modified;
      }
      if (x.status == 206) result.resumed = true;
    }
    switch (x.abort) {
      case Exchange::Abort::none:
        break;
      case Exchange::Abort::too_large:
        return {Next::fail, make_error(Errc::too_large, url + ": " + x.abort_message)};
      case Exchange::Abort::stalled:
        return {Next::retry, make_error(Errc::timeout, url + ": " + x.abort_message)};
      case Exchange::Abort::cancelled:
        return {Next::fail, make_error(Errc::cancelled, url + ": cancelled")};
      case Exchange::Abort::bad_range: {
        if (auto st = sink.truncate(); !st) return {Next::fail, st.error()};
        return {Next::retry, make_error(Errc::network, url + ": " + x.abort_message)};
      }
      case Exchange::Abort::write_failed:
        return {Next::fail, make_error(Errc::io, x.abort_message)};
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) return http_error(code, url, x.requested_offset, sink);
    if (rc != CURLE_OK) return curl_error(rc, errbuf, url);
    if (code >= 300 && code < 400) {
      char* next = nullptr;
      curl_easy_getinfo(c.h, CURLINFO_REDIRECT_URL, &next);
      if (!next)
        return {Next::fail, make_error(Errc::network, url + ": redirect without Location")};
      auto checked = check_url(next);
      if (!checked)
        return {Next::fail,
                make_error(Errc::invalid, "redirect refused: " + checked.error().message)};
      url = *checked;
      continue;
    }
    if (code != 200 && code != 206) {
      return {Next::fail,
              make_error(Errc::network, "HTTP " + std::to_string(code) + " from " + url)};
    }
    result.effective_url = url;
    return {Next::done, {}};
  }
  return {Next::fail, make_error(Errc::network, start_url + ": too many redirects")};
}

bool cancelled(const DownloadOptions& opts) {
  return opts.cancel && opts.cancel->load();
}

// Waits `d` or until cancelled.
void pause(std::chrono::milliseconds d, const DownloadOptions& opts) {
  auto until = Clock::now() + d;
  while (Clock::now() < until && !cancelled(opts)) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
  }
}

Result<DownloadResult> run(std::string_view url_text, Sink& sink, const DownloadOptions& opts) {
  auto url = check_url(url_text);
  if (!url) return url.error();
  if (opts.expected_size && *opts.expected_size > opts.max_bytes) {
    return make_error(Errc::too_large, *url + " is " + std::to_string(*opts.expected_size) +
                                           " bytes, over the limit of " +
                                           std::to_string(opts.max_bytes));
  }
  DownloadResult result;
  Validator validator;
  auto delay = opts.retry_delay;
  Error last{Errc::network, "no attempt made"};
  int attempts = opts.max_attempts < 1 ? 1 : opts.max_attempts;
  for (int n = 1; n <= attempts; ++n) {
    if (cancelled(opts)) return make_error(Errc::cancelled, *url + ": cancelled");
    result.attempts = n;
    Outcome o = attempt(*url, sink, opts, validator, result);
    if (o.next == Next::done) {
      std::uint64_t got = sink.size();
      if (!opts.expected_size || got == *opts.expected_size) {
        result.bytes = got;
        return result;
      }
      if (got > *opts.expected_size) {
        return make_error(Errc::mismatch, *url + " sent " + std::to_string(got) +
                                              " bytes, the release metadata says " +
                                              std::to_string(*opts.expected_size));
      }
      // The server closed early without saying so (no length, or a proxy): resume.
      o = {Next::retry,
           make_error(Errc::network, *url + ": the transfer ended after " + std::to_string(got) +
                                         " of " + std::to_string(*opts.expected_size) + " bytes")};
    }
    if (o.next == Next::fail) return o.error;
    last = o.error;
    if (n < attempts) {
      pause(delay, opts);
      delay *= 2;
    }
  }
  last.message += " (gave up after " + std::to_string(attempts) + " attempts)";
  return last;
}

}  // namespace

Result<DownloadResult> download_file(std::string_view url, const fs::path& dest,
                                     const DownloadOptions& options) {
  fs::path part = dest;
  part += ".part";
  int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return make_error(Errc::io, "cannot create " + part.string() + ": " + std::strerror(errno));
  OpenFile guard(fd);
  FileSink sink(fd);
  auto result = run(url, sink, options);
  Status st;
  if (result && ::fsync(fd) != 0) st = make_error(Errc::io, "cannot sync " + part.string());
  if (result && st && ::rename(part.c_str(), dest.c_str()) != 0) {
    st = make_error(Errc::io, "cannot rename " + part.string() + ": " + std::strerror(errno));
  }
  if (!result || !st) {
    ::unlink(part.c_str());
    return result ? Result<DownloadResult>(st.error()) : result;
  }
  return result;
}

Result<std::string> fetch_text(std::string_view url, const DownloadOptions& options,
                               DownloadResult* info) {
  MemorySink sink;
  auto result = run(url, sink, options);
  if (!result) return result.error();
  if (info) *info = *result;
  return sink.take();
}

}  // namespace mesh::updater
