using System.Globalization;
using System.Text;
using Lrml.Util;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>
/// A small typed table of results (rows of named cells) that renders as Markdown, CSV, a console table
/// or a notebook table (Lrml.Notebooks converts it to a Microsoft.Data.Analysis DataFrame). Numeric cells keep their
/// value; their display format is per column.
/// </summary>
public sealed class ResultTable
{
    private readonly List<string> _columns = new();
    private readonly List<Dictionary<string, object?>> _rows = new();
    private readonly Dictionary<string, string> _formats = new();

    public ResultTable(string title, params string[] columns)
    {
        Title = title;
        foreach (var c in columns) AddColumn(c);
    }

    /// <summary>Caption shown above the table.</summary>
    public string Title { get; }

    /// <summary>Notes printed under the table (sources, protocol, caveats).</summary>
    public List<string> Notes { get; } = new();

    public IReadOnlyList<string> Columns => _columns;
    public IReadOnlyList<IReadOnlyDictionary<string, object?>> Rows => _rows;

    public ResultTable AddColumn(string name, string? format = null)
    {
        if (!_columns.Contains(name)) _columns.Add(name);
        if (format is not null) _formats[name] = format;
        return this;
    }

    /// <summary>Sets the numeric display format of a column (e.g. "F4").</summary>
    public ResultTable Format(string column, string format) { _formats[column] = format; return this; }

    /// <summary>Adds a row; cells for unknown columns add the column.</summary>
    public ResultTable AddRow(params (string Column, object? Value)[] cells)
    {
        var row = new Dictionary<string, object?>();
        foreach (var (c, v) in cells) { AddColumn(c); row[c] = v; }
        _rows.Add(row);
        return this;
    }

    /// <summary>The raw value of a cell, or null.</summary>
    public object? Get(int row, string column) => _rows[row].TryGetValue(column, out var v) ? v : null;

    /// <summary>The display text of a cell.</summary>
    public string Text(int row, string column)
    {
        var v = Get(row, column);
        return v switch
        {
            null => "",
            double d when double.IsNaN(d) => "",
            double d => d.ToString(_formats.GetValueOrDefault(column, "G6"), CultureInfo.InvariantCulture),
            float f => ((double)f).ToString(_formats.GetValueOrDefault(column, "G6"), CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(_formats.GetValueOrDefault(column), CultureInfo.InvariantCulture),
            _ => v.ToString() ?? "",
        };
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        if (!string.IsNullOrEmpty(Title)) sb.Append("**").Append(Title).Append("**\n\n");
        sb.Append("| ").AppendJoin(" | ", _columns.Select(Escape)).Append(" |\n");
        sb.Append('|').AppendJoin('|', _columns.Select(c => IsNumeric(c) ? "---:" : "---")).Append("|\n");
        for (int r = 0; r < _rows.Count; r++)
            sb.Append("| ").AppendJoin(" | ", _columns.Select(c => Escape(Text(r, c)))).Append(" |\n");
        foreach (var n in Notes) sb.Append('\n').Append(n).Append('\n');
        return sb.ToString();
    }

    /// <summary>CSV with raw (round-trippable) numbers.</summary>
    public string ToCsv()
    {
        var rows = new List<IReadOnlyList<string>>();
        for (int r = 0; r < _rows.Count; r++)
            rows.Add(_columns.Select(c => Get(r, c) switch
            {
                null => "",
                double d => double.IsNaN(d) ? "" : CsvText.Number(d),
                float f => CsvText.Number(f),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                var v => v.ToString() ?? "",
            }).ToList());
        return CsvText.Build(_columns, rows);
    }

    /// <summary>Writes table.csv and table.md (atomically) under <paramref name="directory"/> with the given base name.</summary>
    public void Save(string directory, string baseName)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, baseName + ".csv"), ToCsv());
        AtomicFile.WriteAllText(Path.Combine(directory, baseName + ".md"), ToMarkdown());
    }

    /// <summary>Whether every non-empty cell of a column is numeric.</summary>
    public bool IsNumeric(string column) =>
        _rows.Any(r => r.TryGetValue(column, out var v) && v is not null) &&
        _rows.All(r => !r.TryGetValue(column, out var v) || v is null or double or float or int or long);

    public override string ToString() => ToMarkdown();

    private static string Escape(string s) => s.Replace("|", "\\|");
}
