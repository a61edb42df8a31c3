// describe_keys: the directive table as aligned text for `--help`.
#include <algorithm>
#include <array>
#include <vector>

#include "config/config.hpp"
#include "config/directives.hpp"
#include "config/values.hpp"

namespace rtmpt::config {
namespace {

constexpr std::size_t kHelpIndent = 4;
constexpr std::size_t kHelpWidth = 96;

// Greedy word wrap; a word longer than the width gets a line of its own.
void append_wrapped(std::string& out, std::string_view text, std::size_t indent, std::size_t width) {
    std::string line;
    auto flush = [&] {
        out += std::string(indent, ' ') + line + "\n";
        line.clear();
    };
    while (!text.empty()) {
        const std::size_t space = text.find(' ');
        const std::string_view word = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
        if (word.empty()) continue;
        if (!line.empty() && indent + line.size() + 1 + word.size() > width) flush();
        line += (line.empty() ? "" : " ") + std::string(word);
    }
    if (!line.empty()) flush();
}

[[nodiscard]] std::string shown_default(const Directive& d) {
    return d.default_text.empty() ? "\"\"" : std::string(d.default_text);
}

}  // namespace

std::string describe_keys() {
    using Row = std::array<std::string, 4>;
    std::vector<Row> rows{{"KEY", "TYPE", "DEFAULT", "ALLOWED"}};
    for (const Directive& d : directives()) {
        rows.push_back(
            {std::string(d.name), std::string(type_name(d.type)), shown_default(d), describe_bounds(d)});
    }
    std::array<std::size_t, 4> widths{};
    for (const Row& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }

    std::string out;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < rows[r].size(); ++i) {
            line += rows[r][i];
            if (i + 1 < rows[r].size()) line += std::string(widths[i] - rows[r][i].size() + 2, ' ');
        }
        out += line + "\n";
        if (r > 0) append_wrapped(out, directives()[r - 1].help, kHelpIndent, kHelpWidth);
    }
    for (const AtLeast& rule : at_least_rules()) {
        out += "\n";
        append_wrapped(out,
                       std::string(rule.key) + " must be at least " + std::string(rule.other) + ": " +
                           std::string(rule.why) + ".",
                       0, kHelpWidth);
    }
    out += "\n";
    append_wrapped(
        out,
        "Durations take a unit: 500ms, 30s, 5m, 1h (0 needs none). Sizes: 512 (bytes), 64KiB, 1MiB, "
        "2GiB (powers of 1024), 20KB, 20MB, 2GB (powers of 1000).",
        0, kHelpWidth);
    return out;
}

}  // namespace rtmpt::config
