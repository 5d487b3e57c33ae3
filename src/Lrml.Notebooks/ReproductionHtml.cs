using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Lrml.Experiments;
using Lrml.Reproduction.Plots;
using Lrml.Reproduction;

namespace Lrml.Notebooks;

/// <summary>
/// HTML renderings of the reproduction results (<see cref="KitFormatters"/> shows them in notebooks): named charts,
/// findings, duration estimates, ablation results and dynamics reports.
/// </summary>
public static partial class ReproductionHtml
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>A named chart: the chart itself (plotly.js is inlined with the first chart of a notebook when the setup
    /// summary was not displayed).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Chart(NamedChart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        return Notebook.PlotlyScriptOnce() + PlotlyHtml.Fragment(chart.Chart);
    }

    /// <summary>Several named charts, one below the other.</summary>
    public static string Charts(IEnumerable<NamedChart> charts)
    {
        ArgumentNullException.ThrowIfNull(charts);
        return string.Concat(charts.Select(Chart));
    }

    /// <summary>Findings: the title and one bullet per point (<c>**bold**</c> and <c>`code`</c> rendered, the rest encoded).</summary>
    public static string Findings(Findings findings)
    {
        ArgumentNullException.ThrowIfNull(findings);
        var sb = new StringBuilder("<div class=\"lrml-findings\"><div style=\"font-weight:bold;margin:6px 0\">");
        sb.Append(HtmlTable.Encode(findings.Title)).Append("</div><ul>");
        foreach (var p in findings.Points) sb.Append("<li>").Append(InlineMarkdown(p)).Append("</li>");
        return sb.Append("</ul></div>").ToString();
    }

    /// <summary>A duration estimate: its sentence and the per-configuration table.</summary>
    public static string Estimate(DurationEstimate estimate)
    {
        ArgumentNullException.ThrowIfNull(estimate);
        return $"<div style=\"margin:6px 0\"><b>{HtmlTable.Encode("≈ " + DurationEstimate.Format(estimate.Total))}</b> — " +
               $"{HtmlTable.Encode(estimate.Summary)}</div>" + KitHtml.ResultTable(estimate.Table);
    }

    /// <summary>One ablation: its table (with the reading as note) and its chart.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Ablation(AblationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return KitHtml.ResultTable(result.Table) + Chart(result.Chart());
    }

    /// <summary>An ablation study: the summary table and where the files are.</summary>
    public static string Ablations(AblationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return KitHtml.ResultTable(report.Summary) + Written(report.OutputDirectory, report.ChartFiles, report.Results.SelectMany(r => r.Runs).Select(r => r.Directory).Distinct().Count());
    }

    /// <summary>A dynamics study: the cost table, the curves table and where the files are.</summary>
    public static string Dynamics(DynamicsReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return KitHtml.ResultTable(report.Cost) + KitHtml.ResultTable(report.Curves) + Written(report.OutputDirectory, report.ChartFiles, null);
    }

    private static string Written(string dir, IReadOnlyList<string> charts, int? runs) =>
        "<div style=\"font-size:90%;color:#555\">" + (runs is int n ? $"{n.ToString("N0", Ci)} runs · " : "") +
        $"tables, findings and {charts.Count.ToString(Ci)} chart file(s) written to {HtmlTable.Encode(dir)}</div>";

    /// <summary>Encodes text as HTML, rendering <c>**bold**</c> and <c>`code`</c>.</summary>
    public static string InlineMarkdown(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string html = HtmlTable.Encode(text);
        html = Bold().Replace(html, "<b>$1</b>");
        return Code().Replace(html, "<code>$1</code>");
    }

    [GeneratedRegex(@"\*\*(.+?)\*\*")]
    private static partial Regex Bold();

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex Code();
}
