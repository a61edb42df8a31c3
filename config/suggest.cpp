#include "config/suggest.hpp"

#include <algorithm>
#include <vector>

#include "config/directives.hpp"

namespace rtmpt::config {
namespace {

constexpr std::size_t kMaxEdits = 2;

[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

struct Split {
    std::string_view parent;  // "session" for "session.idle_timeout"; empty at the top level
    std::string_view last;
};

[[nodiscard]] Split split_last(std::string_view name) {
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos) return {{}, name};
    return {name.substr(0, dot), name.substr(dot + 1)};
}

// The child of `parent` on the way to `directive`: "session" for ("", "session.idle_timeout").
[[nodiscard]] std::optional<std::string_view> child_of(std::string_view parent, std::string_view directive) {
    if (!parent.empty()) {
        if (!directive.starts_with(parent) || directive.size() <= parent.size() ||
            directive[parent.size()] != '.') {
            return std::nullopt;
        }
        directive.remove_prefix(parent.size() + 1);
    }
    return directive.substr(0, directive.find('.'));
}

[[nodiscard]] std::string join(std::string_view parent, std::string_view child) {
    return parent.empty() ? std::string(child) : std::string(parent) + "." + std::string(child);
}

}  // namespace

std::optional<std::string> suggest_key(std::string_view unknown) {
    const Split u = split_last(unknown);
    std::optional<std::string_view> best;
    std::size_t best_distance = kMaxEdits + 1;
    for (const Directive& d : directives()) {
        const auto child = child_of(u.parent, d.name);
        if (!child) continue;
        const std::size_t distance = edit_distance(u.last, *child);
        if (distance < best_distance) {
            best = child;
            best_distance = distance;
        }
    }
    // Two edits turn "ab" into anything of two letters: only suggest when most of the name survives.
    if (best && best_distance * 2 < u.last.size()) return join(u.parent, *best);
    for (const Directive& d : directives()) {
        if (split_last(d.name).last == u.last) return std::string(d.name);
    }
    return std::nullopt;
}

}  // namespace rtmpt::config
