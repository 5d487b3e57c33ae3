using System.Globalization;
using System.Text;

namespace Lrml.Notebooks;

/// <summary>
/// A small table that renders as an HTML table in notebooks (through <see cref="KitFormatters"/>) and as aligned plain
/// text elsewhere (<see cref="ToString"/>). Cells are formatted with the invariant culture: integers with thousands
/// separators, floating-point numbers with up to <see cref="Decimals"/> decimals, NaN as "–"; numeric cells are
/// right-aligned. All text is HTML-escaped (<see cref="Encode"/>).
/// </summary>
[TypeFormatterSource(typeof(KitFormatterSource))]
public sealed class HtmlTable
{
    private readonly List<string[]> _rows = new();
    private readonly List<bool[]> _numeric = new();

    /// <summary>Creates an empty table with these column headers.</summary>
    public HtmlTable(IEnumerable<string> columns, string? caption = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        Columns = columns.ToArray();
        if (Columns.Count == 0) throw new ArgumentException("A table needs at least one column.", nameof(columns));
        Caption = caption;
    }

    /// <summary>Column headers.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Optional caption shown above the table.</summary>
    public string? Caption { get; set; }

    /// <summary>Optional note shown under the table (e.g. what the numbers mean).</summary>
    public string? Note { get; set; }

    /// <summary>Maximum decimals of floating-point cells.</summary>
    public int Decimals { get; set; } = 4;

    /// <summary>Formatted rows.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Rows => _rows;

    /// <summary>Adds a row; must have one cell per column.</summary>
    public HtmlTable AddRow(params object?[] cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Length != Columns.Count)
            throw new ArgumentException($"Row has {cells.Length} cells but the table has {Columns.Count} columns ({string.Join(", ", Columns)}).", nameof(cells));
        var text = new string[cells.Length];
        var numeric = new bool[cells.Length];
        for (int c = 0; c < cells.Length; c++) (text[c], numeric[c]) = FormatCell(cells[c], Decimals);
        _rows.Add(text);
        _numeric.Add(numeric);
        return this;
    }

    /// <summary>Adds a row of already formatted text; <paramref name="numeric"/> marks the right-aligned cells.</summary>
    public HtmlTable AddTextRow(IReadOnlyList<string> cells, IReadOnlyList<bool> numeric)
    {
        ArgumentNullException.ThrowIfNull(cells);
        ArgumentNullException.ThrowIfNull(numeric);
        if (cells.Count != Columns.Count || numeric.Count != Columns.Count)
            throw new ArgumentException($"Row has {cells.Count} cells ({numeric.Count} flags) but the table has {Columns.Count} columns.", nameof(cells));
        _rows.Add(cells.ToArray());
        _numeric.Add(numeric.ToArray());
        return this;
    }

    /// <summary>A two-column table ("what", "value") from key/value pairs.</summary>
    public static HtmlTable KeyValue(IEnumerable<KeyValuePair<string, string>> rows, string? caption = null, string keyHeader = "", string valueHeader = "")
    {
        var t = new HtmlTable([keyHeader, valueHeader], caption);
        foreach (var (k, v) in rows) t.AddRow(k, v);
        return t;
    }

    /// <summary>Formats one cell value and says whether it is numeric.</summary>
    public static (string Text, bool Numeric) FormatCell(object? value, int decimals = 4)
    {
        var ci = CultureInfo.InvariantCulture;
        return value switch
        {
            null => ("", false),
            string s => (s, false),
            bool b => (b ? "yes" : "no", false),
            double d => (FormatDouble(d, decimals), true),
            float f => (FormatDouble(f, decimals), true),
            decimal m => (m.ToString("#,0.################", ci), true),
            int or long or short or byte or uint or ulong or ushort or sbyte => (Convert.ToInt64(value, ci).ToString("N0", ci), true),
            DateTime dt => (dt.ToString("yyyy-MM-dd HH:mm:ss", ci), false),
            DateTimeOffset dto => (dto.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", ci) + " UTC", false),
            TimeSpan ts => (ts.TotalSeconds.ToString("0.##", ci) + " s", true),
            IFormattable fmt => (fmt.ToString(null, ci), false),
            _ => (value.ToString() ?? "", false),
        };
    }

    /// <summary>A double with up to <paramref name="decimals"/> decimals (thousands separators from 10,000 on); NaN as "–".</summary>
    public static string FormatDouble(double d, int decimals = 4)
    {
        var ci = CultureInfo.InvariantCulture;
        if (double.IsNaN(d)) return "–";
        if (double.IsInfinity(d)) return d > 0 ? "∞" : "−∞";
        string frac = decimals > 0 ? "." + new string('#', decimals) : "";
        return Math.Abs(d) >= 10_000 ? d.ToString("#,0" + frac, ci) : d.ToString("0" + frac, ci);
    }

    /// <summary>The table as an HTML fragment (a caption, the table, a note).</summary>
    public string ToHtml()
    {
        var sb = new StringBuilder();
        sb.Append("<div class=\"lrml-table\">");
        if (!string.IsNullOrEmpty(Caption)) sb.Append("<div style=\"font-weight:bold;margin:4px 0\">").Append(Encode(Caption)).Append("</div>");
        sb.Append("<table style=\"border-collapse:collapse\"><thead><tr>");
        foreach (var c in Columns) sb.Append("<th style=\"text-align:left;padding:2px 10px;border-bottom:1px solid #999\">").Append(Encode(c)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        for (int r = 0; r < _rows.Count; r++)
        {
            sb.Append("<tr>");
            for (int c = 0; c < Columns.Count; c++)
                sb.Append(_numeric[r][c] ? "<td style=\"text-align:right;padding:2px 10px\">" : "<td style=\"text-align:left;padding:2px 10px\">")
                  .Append(Encode(_rows[r][c])).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (!string.IsNullOrEmpty(Note)) sb.Append("<div style=\"font-size:90%;color:#555;margin:4px 0\">").Append(Encode(Note)).Append("</div>");
        sb.Append("</div>");
        return sb.ToString();
    }

    /// <summary>The table as aligned plain text (caption, header, rule, rows, note).</summary>
    public override string ToString()
    {
        var width = Columns.Select(c => c.Length).ToArray();
        foreach (var row in _rows) for (int c = 0; c < row.Length; c++) width[c] = Math.Max(width[c], row[c].Length);
        var sb = new StringBuilder();
        if (!string.IsNullOrEmpty(Caption)) sb.Append(Caption).Append('\n');
        sb.Append(string.Join("  ", Columns.Select((c, i) => c.PadRight(width[i]))).TrimEnd()).Append('\n');
        sb.Append(string.Join("  ", width.Select(w => new string('-', Math.Max(1, w))))).Append('\n');
        for (int r = 0; r < _rows.Count; r++)
            sb.Append(string.Join("  ", _rows[r].Select((v, i) => _numeric[r][i] ? v.PadLeft(width[i]) : v.PadRight(width[i]))).TrimEnd()).Append('\n');
        if (!string.IsNullOrEmpty(Note)) sb.Append(Note).Append('\n');
        return sb.ToString();
    }

    /// <summary>Escapes the five HTML-special characters (&amp; &lt; &gt; " ') and leaves all other text as is (UTF-8).</summary>
    public static string Encode(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        if (s.AsSpan().IndexOfAny("&<>\"'") < 0) return s;
        var sb = new StringBuilder(s.Length + 16);
        foreach (char c in s)
            sb.Append(c switch { '&' => "&amp;", '<' => "&lt;", '>' => "&gt;", '"' => "&quot;", '\'' => "&#39;", _ => c.ToString() });
        return sb.ToString();
    }
}
