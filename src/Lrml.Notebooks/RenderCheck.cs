using System.Globalization;
using System.Text.RegularExpressions;
using Lrml.Reproduction.Plots;

namespace Lrml.Notebooks;

/// <summary>The outcome of checking one rendered notebook (HTML).</summary>
/// <param name="ChartDivs">Chart divs (class lrml-plot) in the HTML.</param>
/// <param name="ChartFigures">Chart scripts carrying a figure with at least one trace.</param>
/// <param name="PlotlyBundles">Inlined plotly.js bundles (the kit inlines one per notebook).</param>
/// <param name="DrawnCharts">Charts plotly.js actually drew when Chromium ran the page, or null without Chromium.</param>
/// <param name="ChromaticPixels">Coloured pixels in the screenshot, or null without Chromium.</param>
/// <param name="Screenshot">Path of the screenshot, or null.</param>
/// <param name="Problems">What failed (empty when the page is fine).</param>
public sealed record RenderReport(int ChartDivs, int ChartFigures, int PlotlyBundles, int? DrawnCharts, long? ChromaticPixels,
    string? Screenshot, IReadOnlyList<string> Problems)
{
    /// <summary>Whether every check passed.</summary>
    public bool Ok => Problems.Count == 0;

    /// <summary>One line: counts and problems.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        return $"{ChartDivs.ToString(ci)} chart(s), {ChartFigures.ToString(ci)} with data, plotly.js inlined {PlotlyBundles.ToString(ci)}×" +
               (DrawnCharts is int d ? $", {d.ToString(ci)} drawn in Chromium" : ", not drawn (no Chromium)") +
               (ChromaticPixels is long p ? $", {p.ToString("N0", ci)} coloured pixels" : "") +
               (Problems.Count > 0 ? " — " + string.Join("; ", Problems) : "");
    }
}

/// <summary>
/// Checks that a rendered notebook (nbconvert HTML, or any page with the kit's charts) shows its charts:
/// <list type="number">
/// <item>Static: every chart div has a figure script with data, plotly.js is inlined (once), and no chart
/// loads plotly.js from a CDN.</item>
/// <item>With Chromium: the page's DOM after its scripts ran has every chart drawn by plotly.js (the div became a
/// <c>js-plotly-plot</c>) and no "plotly.js is not loaded" fallback; a screenshot has coloured pixels (plotted traces
/// and plot backgrounds are coloured, text is not), at least <see cref="MinChromaticPixelsPerPage"/> when the page has charts.</item>
/// </list>
/// </summary>
public static class RenderCheck
{
    /// <summary>Coloured pixels a screenshot of a page with charts must have (one drawn chart has about 200,000).</summary>
    public const long MinChromaticPixelsPerPage = 5_000;

    private static readonly Regex ChartDiv = new("<div id=\"[^\"]*\" class=\"" + PlotlyHtml.ChartClass + "\"", RegexOptions.Compiled);
    private static readonly Regex FigureWithData = new(@"var figure = \{""data"":\[\{", RegexOptions.Compiled);
    private static readonly Regex DrawnDiv = new("class=\"[^\"]*\\b" + PlotlyHtml.ChartClass + "\\b[^\"]*\\bjs-plotly-plot\\b", RegexOptions.Compiled);
    private static readonly Regex Fallback = new("class=\"[^\"]*\\b" + PlotlyHtml.ChartClass + "\\b[^\"]*\"[^>]*>plotly\\.js is not loaded", RegexOptions.Compiled);
    private static readonly Regex CdnPlotly = new(@"<script[^>]+src=""[^""]*(cdn\.plot\.ly|plotly[^""]*\.js)", RegexOptions.Compiled | RegexOptions.IgnoreCase);

    /// <summary>The static checks on HTML text (no browser).</summary>
    public static (int Divs, int Figures, int Bundles, List<string> Problems) CheckStatic(string html, bool expectCharts)
    {
        ArgumentNullException.ThrowIfNull(html);
        int divs = ChartDiv.Matches(html).Count;
        int figures = FigureWithData.Matches(html).Count;
        int bundles = Regex.Matches(html, "<script[^>]*" + PlotlyHtml.BundleMarker + "=").Count;
        var problems = new List<string>();
        if (expectCharts && divs == 0) problems.Add("no chart in the page");
        if (figures < divs) problems.Add($"{divs - figures} chart(s) without figure data");
        if (divs > 0 && bundles == 0) problems.Add("plotly.js is not inlined (charts would stay blank offline)");
        if (bundles > 1) problems.Add($"plotly.js inlined {bundles} times (expected once)");
        if (CdnPlotly.IsMatch(html)) problems.Add("a script loads plotly.js from a URL");
        return (divs, figures, bundles, problems);
    }

    /// <summary>Width of the window a page is laid out in before it is measured (the screenshot grows to wider content).</summary>
    public const int PageWidth = 1100;

    /// <summary>
    /// Checks an HTML file: the static checks, and with a browser (<see cref="Chromium.Find"/>) the drawn charts and a
    /// screenshot written to <paramref name="screenshotPath"/> (when given). The screenshot is sized to the page — the
    /// width and height the laid-out page occupies (at least <see cref="PageWidth"/> wide), measured in the same
    /// browser run that counts the drawn charts — unless <paramref name="width"/> and <paramref name="height"/> fix it.
    /// </summary>
    public static RenderReport CheckFile(string htmlPath, string? screenshotPath, bool expectCharts = false, string? browser = null,
        int? width = null, int? height = null, TimeSpan? timeout = null)
    {
        string html = File.ReadAllText(htmlPath);
        var (divs, figures, bundles, problems) = CheckStatic(html, expectCharts);
        browser ??= Chromium.Find();
        if (browser is null) return new RenderReport(divs, figures, bundles, null, null, null, problems);
        var limit = timeout ?? TimeSpan.FromSeconds(120);

        string dom = DumpMeasured(browser, htmlPath, html, limit);
        var (pageWidth, pageHeight) = PageSize(dom) ?? (PageWidth, 12000);
        int drawn = DrawnDiv.Matches(dom).Count;
        if (drawn < divs) problems.Add($"{divs - drawn} of {divs} chart(s) not drawn by plotly.js in Chromium");
        if (Fallback.IsMatch(dom)) problems.Add("a chart found no plotly.js on the page");

        long? chromatic = null;
        if (screenshotPath is not null)
        {
            Chromium.Screenshot(browser, htmlPath, screenshotPath, width ?? Math.Clamp(pageWidth, PageWidth, 4000),
                height ?? Math.Clamp(pageHeight + 16, 200, 60000), limit);
            var image = PngImage.Load(screenshotPath);
            chromatic = image.CountChromatic();
            if (image.CountNonWhite() == 0) problems.Add("the screenshot is blank");
            if (divs > 0 && chromatic < MinChromaticPixelsPerPage)
                problems.Add($"the screenshot has only {chromatic} coloured pixels (charts look blank)");
        }
        return new RenderReport(divs, figures, bundles, drawn, chromatic, screenshotPath, problems);
    }

    private const string SizeAttribute = "data-lrml-page-size";

    /// <summary>The page's DOM after its scripts ran, from a copy beside it (same relative links) with a script that
    /// records the laid-out size (scrollWidth × scrollHeight) on the root element once the page has loaded.</summary>
    private static string DumpMeasured(string browser, string htmlPath, string html, TimeSpan limit)
    {
        string probe = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(htmlPath))!, $".{Path.GetFileNameWithoutExtension(htmlPath)}.measure-{Environment.ProcessId}.html");
        const string script = "<script>(function () { function m() { var d = document.documentElement, b = document.body || d; " +
            "d.setAttribute('" + SizeAttribute + "', Math.max(d.scrollWidth, b.scrollWidth) + 'x' + Math.max(d.scrollHeight, b.scrollHeight)); } " +
            "window.addEventListener('load', function () { m(); setTimeout(m, 1500); }); })();</script>";
        int at = html.LastIndexOf("</body>", StringComparison.OrdinalIgnoreCase);
        try
        {
            File.WriteAllText(probe, at >= 0 ? html.Insert(at, script) : html + script);
            return Chromium.DumpDom(browser, probe, limit, windowWidth: PageWidth);
        }
        finally { File.Delete(probe); }
    }

    /// <summary>The size recorded by <see cref="DumpMeasured"/>, or null when the page did not report one.</summary>
    internal static (int Width, int Height)? PageSize(string dom)
    {
        var m = Regex.Match(dom, SizeAttribute + "=\"(\\d+)x(\\d+)\"");
        return m.Success && int.TryParse(m.Groups[1].Value, out int w) && int.TryParse(m.Groups[2].Value, out int h) && w > 0 && h > 0
            ? (w, h) : null;
    }
}
