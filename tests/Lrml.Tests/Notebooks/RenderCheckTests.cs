using Lrml.Reproduction.Plots;
using Lrml.Notebooks;

namespace Lrml.Tests.Notebooks;

public class RenderCheckTests
{
    private static Plotly.NET.GenericChart Chart(string name) => Charts.Bars(["a", "b"], [new BarSeries(name, [1, 2])], "v", width: 400, height: 300);

    [Fact]
    public void Static_CountsChartsFiguresAndTheBundle()
    {
        string page = PlotlyHtml.Document([Chart("one"), Chart("two")]);
        var (divs, figures, bundles, problems) = RenderCheck.CheckStatic(page, expectCharts: true);
        Assert.Equal(2, divs);
        Assert.Equal(2, figures);
        Assert.Equal(1, bundles);
        Assert.Empty(problems);
    }

    [Fact]
    public void Static_FlagsMissingBundleCdnAndMissingCharts()
    {
        string fragmentOnly = "<html><body>" + PlotlyHtml.Fragment(Chart("x")) + "</body></html>";
        Assert.Contains(RenderCheck.CheckStatic(fragmentOnly, false).Problems, p => p.Contains("not inlined", StringComparison.Ordinal));
        string cdn = "<script src=\"https://cdn.plot.ly/plotly-2.28.0.min.js\"></script>" + fragmentOnly;
        Assert.Contains(RenderCheck.CheckStatic(cdn, false).Problems, p => p.Contains("from a URL", StringComparison.Ordinal));
        Assert.Contains(RenderCheck.CheckStatic("<html></html>", expectCharts: true).Problems, p => p.Contains("no chart", StringComparison.Ordinal));
        Assert.Empty(RenderCheck.CheckStatic("<html></html>", expectCharts: false).Problems);
    }

    [Fact]
    public void InChromium_ChartsAreDrawn_AndAPageWithoutPlotlyFails()
    {
        string? browser = Chromium.Find();
        if (browser is null) Assert.Skip(Chromium.NotFoundMessage);
        string dir = Directory.CreateTempSubdirectory("lrml-render").FullName;
        try
        {
            // A page that already has an AMD loader (as Jupyter and nbconvert pages have require.js): the inlined
            // plotly.js must still define window.Plotly instead of registering itself as an anonymous module.
            string good = Path.Combine(dir, "good.html");
            const string amd = "<script>window.define = function () { window.amdCaptured = true; }; window.define.amd = {};</script>";
            File.WriteAllText(good, PlotlyHtml.Document([Chart("one"), Chart("two")]).Replace("<head>\n", "<head>\n" + amd + "\n"));
            Assert.Contains(amd, File.ReadAllText(good));
            var ok = RenderCheck.CheckFile(good, Path.Combine(dir, "good.png"), expectCharts: true, browser: browser, width: 500, height: 800);
            Assert.True(ok.Ok, ok.ToString());
            Assert.Equal(2, ok.DrawnCharts);
            Assert.True(ok.ChromaticPixels > RenderCheck.MinChromaticPixelsPerPage, ok.ToString());

            // The same charts without plotly.js on the page: nothing is drawn and the check says so.
            string bad = Path.Combine(dir, "bad.html");
            File.WriteAllText(bad, "<html><body>" + PlotlyHtml.Fragment(Chart("x"), waitSeconds: 0.5) + "</body></html>");
            var failed = RenderCheck.CheckFile(bad, screenshotPath: null, browser: browser);
            Assert.False(failed.Ok);
            Assert.Equal(0, failed.DrawnCharts);
            Assert.Contains(failed.Problems, p => p.Contains("not drawn", StringComparison.Ordinal));
            Assert.Contains(failed.Problems, p => p.Contains("found no plotly.js", StringComparison.Ordinal));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TheScreenshotIsSizedToThePage()
    {
        string? browser = Chromium.Find();
        if (browser is null) Assert.Skip(Chromium.NotFoundMessage);
        string dir = Directory.CreateTempSubdirectory("lrml-render").FullName;
        try
        {
            string tall = Path.Combine(dir, "tall.html");
            File.WriteAllText(tall, PlotlyHtml.Document([Chart("one")]).Replace("</body>", "<div style=\"height:3000px\"></div></body>"));
            var report = RenderCheck.CheckFile(tall, Path.Combine(dir, "tall.png"), expectCharts: true, browser: browser);
            Assert.True(report.Ok, report.ToString());
            var image = Lrml.Reproduction.Plots.PngImage.Load(Path.Combine(dir, "tall.png"));
            Assert.InRange(image.Height, 3000, 4200);                 // the page, not a fixed 12,000-pixel window
            Assert.InRange(image.Width, RenderCheck.PageWidth, RenderCheck.PageWidth + 100);

            string wide = Path.Combine(dir, "wide.html");
            File.WriteAllText(wide, PlotlyHtml.Document([Chart("two")]).Replace("</body>", "<table><tr><td style=\"min-width:2000px\">wide</td></tr></table></body>"));
            RenderCheck.CheckFile(wide, Path.Combine(dir, "wide.png"), expectCharts: true, browser: browser);
            var wideImage = Lrml.Reproduction.Plots.PngImage.Load(Path.Combine(dir, "wide.png"));
            Assert.True(wideImage.Width >= 2000, $"a wide table widens the screenshot (got {wideImage.Width} px)");
            Assert.Empty(Directory.GetFiles(dir, ".*measure*"));        // the measuring copy is removed
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void PageSizeIsReadFromTheMeasuredDom()
    {
        Assert.Equal((1100, 4321), RenderCheck.PageSize("<html data-lrml-page-size=\"1100x4321\"><body></body></html>"));
        Assert.Null(RenderCheck.PageSize("<html><body></body></html>"));
    }
}
