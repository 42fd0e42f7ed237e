// Fixed limits of the repo pages (docs/web.md, "Repo pages"): what arrives in a URL, and what
// one page may read. The adjustable ones are settings (settings.hpp) with these as bounds.
#pragma once

#include <cstddef>

namespace mesh::browse {

constexpr std::size_t kMaxRepoName = 100;    // the replication plugin's rule
constexpr std::size_t kMaxRefName = 255;     // a short ref name as typed in a URL
constexpr std::size_t kMaxPathBytes = 4096;  // a path inside the repo
constexpr std::size_t kMaxPathSegments = 128;
constexpr std::size_t kMaxSegmentBytes = 255;
constexpr std::size_t kMaxQueryBytes = 1024;

constexpr std::size_t kLogCommits = 50;                 // the commits a repo page lists
constexpr std::size_t kMaxRefsListed = 200;             // branches (and tags) listed on a page
constexpr std::size_t kMaxReposListed = 500;            // repos on /repos
constexpr std::size_t kMaxMessageBytes = 64 * 1024;     // a commit message as shown
constexpr std::size_t kMaxReadmeBytes = 512 * 1024;     // markdown_render takes up to 1 MiB
constexpr std::size_t kActivityDays = 60;               // the sparkline's days
constexpr std::size_t kMaxActivityCommits = 20000;      // commits one activity count may walk
constexpr std::size_t kMaxDiffBlobBytes = 1024 * 1024;  // larger files count as binary in stats
constexpr std::size_t kBinarySniffBytes = 8000;         // git's own heuristic window

}  // namespace mesh::browse
