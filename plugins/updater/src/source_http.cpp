// The release source over HTTP(S): metadata, the signature, the archive (download.hpp).
#include "download.hpp"
#include "release.hpp"
#include "source.hpp"
#include "urls.hpp"

namespace mesh::updater {
namespace {

class HttpSource final : public ReleaseSource {
 public:
  HttpSource(std::string url, FetchLimits limits, const std::atomic<bool>* cancel)
      : url_(std::move(url)), limits_(limits), cancel_(cancel) {}

  std::string describe() const override { return url_; }

  Result<Candidate> candidate(const std::optional<std::string>& tag) override {
    std::string doc_url = tag ? tag_release_url(url_, *tag) : latest_release_url(url_);
    DownloadOptions o = options(1 << 20);
    o.headers = {"Accept: application/vnd.github+json"};
    DownloadResult info;
    auto text = fetch_text(doc_url, o, &info);
    if (!text) {
      if (text.error().code == Errc::not_found) {
        return make_error(Errc::not_found,
                          tag ? "the source has no release " + *tag + " (" + doc_url + ")"
                              : "the source has no release yet (" + doc_url + ")");
      }
      return text.error();
    }
    MetadataLimits ml;
    ml.max_archive_bytes = limits_.max_archive_bytes;
    ml.max_signature_bytes = limits_.max_signature_bytes;
    auto rel =
        parse_release_json(*text, info.effective_url.empty() ? doc_url : info.effective_url, ml);
    if (!rel) return rel.error();
    auto assets = select_platform_assets(*rel, build_arch(), ml);
    if (!assets) return assets.error();
    Candidate c;
    c.version = rel->version;
    c.archive_name = assets->archive.name;
    c.size =
        assets->archive.size ? std::optional<std::uint64_t>(assets->archive.size) : std::nullopt;
    c.sha256 = assets->archive.sha256;
    c.archive_ref = assets->archive.url;
    c.signature_ref = assets->signature.url;
    return c;
  }

  Result<std::string> signature(const Candidate& c) override {
    return fetch_text(c.signature_ref, options(limits_.max_signature_bytes));
  }

  Status download(const Candidate& c, const std::filesystem::path& dest,
                  const Progress& progress) override {
    DownloadOptions o = options(limits_.max_archive_bytes);
    o.expected_size = c.size;
    o.progress = progress;
    auto r = download_file(c.archive_ref, dest, o);
    if (!r) return r.error();
    return {};
  }

 private:
  DownloadOptions options(std::uint64_t max_bytes) const {
    DownloadOptions o;
    o.max_bytes = max_bytes;
    o.connect_timeout = limits_.connect_timeout;
    o.stall_timeout = limits_.stall_timeout;
    o.max_attempts = limits_.attempts;
    o.cancel = cancel_;
    return o;
  }

  std::string url_;
  FetchLimits limits_;
  const std::atomic<bool>* cancel_;
};

}  // namespace

std::unique_ptr<ReleaseSource> make_http_source(std::string source_url, FetchLimits limits,
                                                const std::atomic<bool>* cancel) {
  return std::make_unique<HttpSource>(std::move(source_url), limits, cancel);
}

}  // namespace mesh::updater
