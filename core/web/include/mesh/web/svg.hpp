// Small pictures drawn on the server as inline SVG: numbers in, markup out. No user string ever
// reaches the output, so the markup needs no escaping. Colours come from mesh.css classes (no
// style attributes: the CSP has no 'unsafe-inline').
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::web {

// Commit activity: one bar per day, oldest first, scaled to the busiest day (a day with
// commits is at least 1 px tall). At most 366 days are drawn (the newest ones). The SVG has
// class "sparkline", an aria-label and a <title> with the total.
std::string sparkline_svg(std::span<const std::uint32_t> counts_per_day);

// Peers up out of total: one dot per peer (up ones first, class "up"/"down"), at most 50 dots
// (then a "+" mark), class "peers-indicator", with an aria-label "2 of 3 peers up".
std::string peers_svg(std::size_t up, std::size_t total);

// "3,0,5" -> {3,0,5}; nullopt for anything but comma-separated decimal counts (spaces allowed,
// at most 366 values, each at most 10^9). Empty text is an empty series.
std::optional<std::vector<std::uint32_t>> parse_counts(std::string_view text);
// "2/3" -> {2,3}; nullopt unless two decimal numbers with up <= total <= 100000.
std::optional<std::pair<std::size_t, std::size_t>> parse_up_total(std::string_view text);

}  // namespace mesh::web
