using System.Globalization;
using System.Text;
using Lrml.Util;

using Lrml.Experiments;

namespace Lrml.Reproduction;

/// <summary>
/// What a reproduction found, as sentences computed from its tables (never typed in by hand): the notebooks' "what
/// we found" cells and the findings.md file next to the tables. Markdown emphasis (<c>**…**</c>) is allowed in points.
/// </summary>
/// <param name="Title">Heading.</param>
/// <param name="Points">One finding per entry.</param>
public sealed record Findings(string Title, IReadOnlyList<string> Points)
{
    /// <summary>Markdown: the title as a heading and one bullet per point.</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("## ").Append(Title).Append("\n\n");
        foreach (var p in Points) sb.Append("- ").Append(p).Append('\n');
        return sb.ToString();
    }

    /// <summary>Writes <see cref="ToMarkdown"/> to a file (atomically).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToMarkdown());

    /// <inheritdoc/>
    public override string ToString() => ToMarkdown();

    /// <summary>A number with four decimals (metrics).</summary>
    internal static string F4(double v) => double.IsNaN(v) ? "n/a" : v.ToString("0.0000", CultureInfo.InvariantCulture);

    /// <summary>A p-value with three significant digits.</summary>
    internal static string P(double v) => double.IsNaN(v) ? "n/a" : v.ToString("G3", CultureInfo.InvariantCulture);

    /// <summary>A signed percentage with one or two decimals.</summary>
    internal static string Percent(double v) => double.IsNaN(v) ? "n/a" : (v >= 0 ? "+" : "−") + Math.Abs(v).ToString("0.0#", CultureInfo.InvariantCulture) + " %";

    /// <summary>A table cell as a double (NaN when missing or not a number).</summary>
    internal static double Num(ResultTable t, int row, string column) => t.Get(row, column) switch
    {
        double d => d,
        float f => f,
        int i => i,
        long l => l,
        _ => double.NaN,
    };
}
