using System.Globalization;
using System.Net;
using System.Text;
using Plotly.NET;

namespace Lrml.Reproduction.Plots;

/// <summary>
/// Turns Plotly.NET charts into HTML that works offline: plotly.js is never loaded from a CDN. It is read from the
/// copy embedded in Plotly.NET.dll (<see cref="PlotlyJsVersion"/>) and inlined, wrapped so that a page that already
/// uses require.js (Jupyter, nbconvert's HTML) does not capture it as an anonymous AMD module — otherwise
/// <c>window.Plotly</c> stays undefined and every chart area stays blank.
/// <para>Two forms: <see cref="Fragment"/> (a chart's div and drawing script, for notebook outputs; it waits until
/// plotly.js is present on the page) and <see cref="Document"/> (a complete self-contained page with plotly.js inline,
/// what <see cref="Charts.SaveHtml(GenericChart, string, string?)"/> writes).</para>
/// </summary>
internal static class PlotlyHtml
{
    /// <summary>Version of the plotly.js bundle embedded in Plotly.NET.dll and inlined by this class.</summary>
    public const string PlotlyJsVersion = "2.28.0";

    /// <summary>CSS class of every chart div this class writes (the notebook pipeline counts them).</summary>
    public const string ChartClass = "lrml-plot";

    /// <summary>Marker attribute on the inlined plotly.js script element (the notebook pipeline looks for it).</summary>
    public const string BundleMarker = "data-lrml-plotly-js";

    private static readonly Lazy<string> Bundle = new(ReadBundle);

    /// <summary>The plotly.js bundle (minified JavaScript, about 3.6 MB) from Plotly.NET's embedded resource.</summary>
    public static string PlotlyJs => Bundle.Value;

    private static string ReadBundle()
    {
        var asm = typeof(GenericChart).Assembly;
        string name = $"Plotly.NET.plotly-{PlotlyJsVersion}.min.js";
        using var stream = asm.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException(
                $"plotly.js resource '{name}' not found in {asm.GetName().Name} {asm.GetName().Version}; " +
                $"resources: {string.Join(", ", asm.GetManifestResourceNames())}. Was the Plotly.NET package version changed?");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string js = reader.ReadToEnd();
        // Never let the bundle close the script element it is inlined in.
        return js.Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A <c>&lt;script&gt;</c> element that defines <c>window.Plotly</c> from the inlined bundle. The bundle runs inside
    /// a function whose <c>define</c>, <c>exports</c> and <c>module</c> parameters are undefined, so its UMD header
    /// takes the browser-global branch even when require.js is on the page. It is skipped when plotly.js is already
    /// loaded (re-running a setup cell).
    /// </summary>
    public static string ScriptElement()
    {
        var sb = new StringBuilder(PlotlyJs.Length + 512);
        sb.Append("<script type=\"text/javascript\" ").Append(BundleMarker).Append("=\"").Append(PlotlyJsVersion).Append("\">\n");
        sb.Append("if (typeof window.Plotly === 'undefined') {\n");
        sb.Append("(function (define, exports, module) {\n");
        sb.Append(PlotlyJs);
        sb.Append("\n}).call(window, undefined, undefined, undefined);\n}\n</script>");
        return sb.ToString();
    }

    /// <summary>The figure of a chart as JSON: <c>{"data": [...], "layout": {...}, "frames": [...]}</c>.</summary>
    public static string FigureJson(GenericChart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        return GenericChart.toFigureJson(chart);
    }

    /// <summary>
    /// A chart as an HTML fragment: a div of class <see cref="ChartClass"/> and a script that draws the figure into it
    /// once plotly.js is present (it polls for up to <paramref name="waitSeconds"/> seconds, then writes a message
    /// naming the missing setup call into the div instead of failing silently).
    /// </summary>
    public static string Fragment(GenericChart chart, string? id = null, double waitSeconds = 30)
    {
        string figure = FigureJson(chart);
        id ??= "lrml-plot-" + Guid.NewGuid().ToString("N");
        var (width, height) = Size(chart);
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(figure.Length + 1024);
        sb.Append("<div id=\"").Append(id).Append("\" class=\"").Append(ChartClass).Append("\" style=\"");
        if (width is int w) sb.Append(ci, $"width:{w}px;max-width:100%;");
        if (height is int h) sb.Append(ci, $"height:{h}px;");
        sb.Append("\"></div>\n");
        sb.Append("<script type=\"text/javascript\">\n(function () {\n");
        sb.Append("  var figure = ").Append(figure).Append(";\n");
        sb.Append("  var id = '").Append(id).Append("', tries = 0;\n");
        sb.Append(ci, $"  var maxTries = {Math.Max(1, (int)(waitSeconds * 10))};\n");
        sb.Append("""
              function draw() {
                var el = document.getElementById(id);
                if (!el) { if (tries++ < maxTries) setTimeout(draw, 100); return; }
                if (typeof window.Plotly !== 'undefined') {
                  window.Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false });
                } else if (tries++ < maxTries) {
                  setTimeout(draw, 100);
                } else {
                  el.textContent = 'plotly.js is not loaded on this page: run the setup cell (Lrml.Notebooks.Notebook.Setup()) first.';
                }
              }
              draw();
            })();
            </script>
            """);
        return sb.ToString();
    }

    /// <summary>
    /// A complete, self-contained HTML page showing the charts one below the other: plotly.js inline (no CDN), UTF-8,
    /// an optional title. Opens offline in any browser.
    /// </summary>
    public static string Document(IEnumerable<GenericChart> charts, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(charts);
        var sb = new StringBuilder(PlotlyJs.Length + 64 * 1024);
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append("<title>").Append(WebUtility.HtmlEncode(title ?? "LRML chart")).Append("</title>\n");
        sb.Append("<style>body{margin:8px;font-family:sans-serif;background:#fff}.").Append(ChartClass).Append("{margin-bottom:16px}</style>\n");
        sb.Append(ScriptElement()).Append("\n</head>\n<body>\n");
        if (!string.IsNullOrWhiteSpace(title)) sb.Append("<h2>").Append(WebUtility.HtmlEncode(title)).Append("</h2>\n");
        int n = 0;
        foreach (var chart in charts)
        {
            sb.Append(Fragment(chart, $"lrml-plot-{n++}")).Append('\n');
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>Width and height set in the chart's layout, when set.</summary>
    public static (int? Width, int? Height) Size(GenericChart chart)
    {
        var layout = GenericChart.getLayout(chart);
        return (AsInt(layout.TryGetPropertyValue("width")), AsInt(layout.TryGetPropertyValue("height")));

        static int? AsInt(Microsoft.FSharp.Core.FSharpOption<object>? v) =>
            v is null ? null : v.Value switch
            {
                int i => i,
                double d => (int)Math.Round(d),
                long l => (int)l,
                _ => null,
            };
    }
}
