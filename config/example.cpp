// example_yaml: the directive table as a commented YAML file, every key at its default.
#include "config/example.hpp"

#include <algorithm>
#include <cstddef>

#include "config/values.hpp"

namespace rtmpt::config {
namespace {

constexpr std::size_t kWidth = 100;

// A YAML double-quoted scalar; the table's defaults are printable ASCII.
[[nodiscard]] std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

[[nodiscard]] bool quote_value(ValueType type) {
    return type == ValueType::string || type == ValueType::host_port || is_list(type);
}

// The help and any cross-key rule, then "type: bounds", as comment lines.
[[nodiscard]] std::string comment_for(const Directive& d, std::string_view indent) {
    std::string text(d.help);
    for (const std::string& rule : rules_for(d)) text += " " + rule;
    const std::string prefix = std::string(indent) + "# ";
    return wrap(text, prefix, kWidth) +
           wrap(std::string(type_name(d.type)) + ": " + describe_bounds(d), prefix, kWidth);
}

[[nodiscard]] std::string value_for(const Directive& d, std::string_view indent) {
    if (!is_list(d.type)) {
        return " " + (quote_value(d.type) ? quoted(d.default_text) : std::string(d.default_text)) + "\n";
    }
    const std::vector<std::string> items = default_items(d);
    if (items.empty()) return " []\n";
    std::string out = "\n";
    for (const std::string& item : items) out += std::string(indent) + "  - " + quoted(item) + "\n";
    return out;
}

// The rows whose names start with `prefix` (empty or ending in '.'), in table order, as YAML maps
// nested by the dotted names. A section is written where its first key is; top-level entries are
// separated by blank lines.
void append_level(std::string& out, std::string_view prefix, std::size_t depth) {
    const std::string indent(2 * depth, ' ');
    std::vector<std::string_view> done;  // names already written at this level
    for (const Directive& d : directives()) {
        if (!d.name.starts_with(prefix)) continue;
        const std::string_view rest = d.name.substr(prefix.size());
        const std::size_t dot = rest.find('.');
        const std::string_view name = rest.substr(0, dot);
        if (std::find(done.begin(), done.end(), name) != done.end()) continue;
        if (depth == 0 && !done.empty()) out += "\n";
        done.push_back(name);
        if (dot == std::string_view::npos) {
            out += comment_for(d, indent) + indent + std::string(name) + ":" + value_for(d, indent);
        } else {
            out += indent + std::string(name) + ":\n";
            append_level(out, d.name.substr(0, prefix.size() + dot + 1), depth + 1);
        }
    }
}

}  // namespace

std::string wrap(std::string_view text, std::string_view prefix, std::size_t width) {
    std::string out;
    std::string line;
    auto flush = [&] {
        out += std::string(prefix) + line + "\n";
        line.clear();
    };
    while (!text.empty()) {
        const std::size_t space = text.find(' ');
        const std::string_view word = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
        if (word.empty()) continue;
        if (!line.empty() && prefix.size() + line.size() + 1 + word.size() > width) flush();
        line += (line.empty() ? "" : " ") + std::string(word);
    }
    if (!line.empty()) flush();
    return out;
}

std::string_view units_help() {
    return "Durations take a unit: 500ms, 30s, 5m, 1h (0 needs none). Sizes: 512 (bytes), 64KiB, 1MiB, "
           "2GiB (powers of 1024), 20KB, 20MB, 2GB (powers of 1000).";
}

std::vector<std::string> rules_for(const Directive& d) {
    std::vector<std::string> out;
    for (const AtLeast& rule : at_least_rules()) {
        if (rule.key != d.name) continue;
        out.push_back("Must be at least " + std::string(rule.other) + ": " + std::string(rule.why) + ".");
    }
    if (!d.reloadable) out.emplace_back("Changes need a restart: a reload (SIGHUP) keeps the running value.");
    return out;
}

std::vector<std::string> default_items(const Directive& d) {
    std::vector<std::string> items;
    std::string_view text = d.default_text;
    if (text == "[]") return items;
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        while (item.starts_with(' ')) item.remove_prefix(1);
        while (item.ends_with(' ')) item.remove_suffix(1);
        if (!item.empty()) items.emplace_back(item);
    }
    return items;
}

std::string example_yaml() {
    std::string out =
        "# rtmpt-gateway configuration.\n"
        "#\n"
        "# Every key is optional; the values below are the defaults. Above each key: what it does, then\n"
        "# its type and allowed values. Unknown keys, wrong types and out-of-range values are errors;\n"
        "# check a file with `rtmpt-gateway -t -c FILE`. `rtmpt-gateway --help` and rtmpt-gateway(8)\n"
        "# list the same keys.\n"
        "#\n" +
        wrap(units_help(), "# ", kWidth) +
        "#\n"
        "# Generated from the key table (config/directives.cpp) by\n"
        "# `rtmpt-gateway --print-example-config`.\n";
    std::string body;
    append_level(body, "", 0);
    return out + "\n" + body;
}

}  // namespace rtmpt::config
