using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lrml.Data;
using Lrml.Models;

namespace Lrml.Tests.Models;

/// <summary>
/// The formula sheet src/Lrml/Models/Lrml/README.md against the code: its options table must hold every setting of
/// <see cref="LrmlConfig"/> once, with the config's default and, for enums and switches, every accepted value, and no
/// key the config does not know; its files table must list exactly the code files of the folder, which holds at most
/// four files.
/// </summary>
public class FormulaSheetTests
{
    private const string Folder = "src/Lrml/Models/Lrml";
    private const string OptionsSection = "## Options where public ports disagree";

    private static string RepoPath(string relative) =>
        Path.Combine(DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found"),
            relative);

    private static string Sheet() => File.ReadAllText(RepoPath($"{Folder}/README.md"));

    private sealed record Row(int Line, string Key, IReadOnlyList<string> Choices, string Default);

    private static IReadOnlyList<string> Ticked(string cell) =>
        Regex.Matches(cell, "`([^`]*)`").Select(m => m.Groups[1].Value).ToArray();

    /// <summary>Rows of the first table after <paramref name="heading"/> (header and separator skipped), cells trimmed.</summary>
    private static List<(int Line, string[] Cells)> Table(string markdown, string heading)
    {
        var lines = markdown.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        int at = Array.FindIndex(lines, l => l.Trim() == heading);
        if (at < 0) throw new InvalidOperationException($"README.md has no section '{heading}'.");
        int start = Array.FindIndex(lines, at + 1, l => l.TrimStart().StartsWith('|'));
        if (start < 0) throw new InvalidOperationException($"README.md has no table under '{heading}'.");
        var rows = new List<(int, string[])>();
        for (int x = start + 2; x < lines.Length && lines[x].TrimStart().StartsWith('|'); x++)
            rows.Add((x + 1, lines[x].Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray()));
        return rows;
    }

    /// <summary>Options table rows: option | setting key | choices | kit default | source.</summary>
    private static List<Row> OptionRows(string markdown) =>
        Table(markdown, OptionsSection).Select(r =>
        {
            if (r.Cells.Length != 5) throw new InvalidOperationException($"README.md:{r.Line}: expected 5 cells, got {r.Cells.Length}.");
            var key = Ticked(r.Cells[1]);
            var def = Ticked(r.Cells[3]);
            return new Row(r.Line, key.Count == 1 ? key[0] : r.Cells[1], Ticked(r.Cells[2]), def.Count > 0 ? def[0] : r.Cells[3]);
        }).ToList();

    /// <summary>The value as the settings accept it: strings bare, numbers, booleans and null as JSON writes them.</summary>
    private static string Text(JsonNode? node) =>
        node is null ? "null" : node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();

    /// <summary>Every accepted value of an enum or bool setting, as <see cref="ConfigBinder"/> writes it.</summary>
    private static Dictionary<string, string[]> DiscreteChoices()
    {
        var result = new Dictionary<string, string[]>();
        foreach (var prop in typeof(LrmlConfig).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            string key = ConfigBinder.Json.PropertyNamingPolicy!.ConvertName(prop.Name);
            if (prop.PropertyType.IsEnum)
                result[key] = Enum.GetValues(prop.PropertyType).Cast<object>()
                    .Select(v => JsonSerializer.SerializeToNode(v, prop.PropertyType, ConfigBinder.Json)!.GetValue<string>()).ToArray();
            else if (prop.PropertyType == typeof(bool))
                result[key] = ["true", "false"];
        }
        return result;
    }

    /// <summary>Every way the sheet's options table disagrees with <see cref="LrmlConfig"/>, one line each (empty = none).</summary>
    private static List<string> Problems(string markdown)
    {
        var config = ConfigBinder.ToJson(new LrmlConfig());
        var rows = OptionRows(markdown);
        var choices = DiscreteChoices();
        var problems = new List<string>();
        foreach (var (key, value) in config)
        {
            var found = rows.Where(r => r.Key == key).ToList();
            if (found.Count == 0) { problems.Add($"setting '{key}' has no row"); continue; }
            if (found.Count > 1) problems.Add($"setting '{key}' has {found.Count} rows (lines {string.Join(", ", found.Select(r => r.Line))})");
            var row = found[0];
            if (row.Default != Text(value))
                problems.Add($"README.md:{row.Line}: '{key}' default is '{row.Default}' but LrmlConfig's is '{Text(value)}'");
            if (choices.TryGetValue(key, out var all) && !all.Order().SequenceEqual(row.Choices.Order()))
                problems.Add($"README.md:{row.Line}: '{key}' lists {string.Join(", ", row.Choices)} but accepts {string.Join(", ", all)}");
        }
        foreach (var row in rows.Where(r => !config.ContainsKey(r.Key)))
            problems.Add($"README.md:{row.Line}: '{row.Key}' is not a setting of LrmlConfig");
        return problems;
    }

    [Fact]
    public void TheOptionsTableHoldsEverySettingWithItsDefaultAndChoices()
    {
        var problems = Problems(Sheet());
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(ConfigBinder.ToJson(new LrmlConfig()).Count, OptionRows(Sheet()).Count);
    }

    [Fact]
    public void TheCheckReportsARemovedRowAWrongDefaultAMissingChoiceAndAnUnknownKey()
    {
        string sheet = Sheet();
        string marginRow = sheet.Split('\n').Single(l => l.Contains("| `margin` |"));
        string Mutate(string from, string to)
        {
            Assert.Contains(from, sheet);
            return sheet.Replace(from, to);
        }

        Assert.Equal(["setting 'margin' has no row"], Problems(Mutate(marginRow + "\n", "")));
        Assert.Contains("'slots' default is '10' but LrmlConfig's is '20'",
            Assert.Single(Problems(Mutate("| `slots` | integer ≥ 1 | `20` |", "| `slots` | integer ≥ 1 | `10` |"))));
        Assert.Contains("'distance' lists sqrt-l2, squared-l2 but accepts",
            Assert.Single(Problems(Mutate("`sqrt-l2`, `squared-l2`, `l1` |", "`sqrt-l2`, `squared-l2` |"))));
        Assert.Contains("'margin_scale' is not a setting of LrmlConfig",
            Assert.Single(Problems(Mutate(marginRow + "\n", marginRow + "\n" + marginRow.Replace("`margin`", "`margin_scale`") + "\n"))));
    }

    [Fact]
    public void TheFilesTableListsExactlyTheCodeFilesOfTheFolderWhichHoldsAtMostFour()
    {
        string folder = RepoPath(Folder);
        var files = Directory.GetFiles(folder).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.True(files.Length <= 4, $"{Folder} holds {files.Length} files: {string.Join(", ", files)}");
        Assert.Contains("README.md", files);
        var listed = Table(Sheet(), "# LRML — the kit's formula sheet").SelectMany(r => Ticked(r.Cells[0])).Order().ToArray();
        Assert.Equal(files.Where(f => f.EndsWith(".cs", StringComparison.Ordinal)).ToArray(), listed);
    }
}
