using System.Globalization;
using System.Text;

namespace Lrml.Util;

/// <summary>Writing RFC-4180 CSV: quoting fields and formatting numbers invariantly.</summary>
internal static class CsvText
{
    /// <summary>Quotes a field when it contains a separator, quote or line break.</summary>
    public static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";

    /// <summary>Formats a number with the invariant culture (round-trippable for doubles).</summary>
    public static string Number(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Builds a CSV text from a header and rows of already formatted fields.</summary>
    public static string Build(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', header.Select(Quote)).Append('\n');
        foreach (var row in rows) sb.AppendJoin(',', row.Select(Quote)).Append('\n');
        return sb.ToString();
    }
}
