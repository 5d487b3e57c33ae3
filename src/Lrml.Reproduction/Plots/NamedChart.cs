using Plotly.NET;

using Lrml.Experiments;

namespace Lrml.Reproduction.Plots;

/// <summary>
/// A chart of a report with the base name of the files it is saved under (<c>Name.html</c>, <c>Name.png</c>), e.g.
/// <c>main-table-sampled</c>. Notebooks display it (and lists of them) as the chart itself.
/// </summary>
/// <param name="Name">File base name: lower case, digits and '-' only.</param>
/// <param name="Chart">The Plotly.NET chart.</param>
public sealed record NamedChart(string Name, GenericChart Chart)
{
    /// <summary>The chart's title (from its layout), or <see cref="Name"/> when it has none.</summary>
    public string Title
    {
        get
        {
            var t = GenericChart.getLayout(Chart).TryGetPropertyValue("title");
            return t is not null && t.Value is IDictionary<string, object> d && d.TryGetValue("text", out var text) && text is string s ? s : Name;
        }
    }
}

/// <summary>Writes a report's charts next to its tables.</summary>
internal static class ChartFiles
{
    /// <summary>
    /// Writes each chart as a self-contained HTML page (<c>Name.html</c>, plotly.js inline, opens offline) under
    /// <paramref name="directory"/>, and with <paramref name="png"/> also as <c>Name.png</c> when headless Chromium is
    /// installed (see <see cref="Chromium"/>; without it, or when the browser fails, the PNGs are skipped with a
    /// message). Every file is written atomically. Returns the paths written, HTML first.
    /// </summary>
    public static IReadOnlyList<string> Save(IEnumerable<NamedChart> charts, string directory, bool png = true, IRunObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(charts);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var list = charts.ToList();
        foreach (var c in list)
            if (c.Name.Length == 0 || !c.Name.All(ch => ch is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
                throw new ArgumentException($"Chart name '{c.Name}' is not a file base name (lower case, digits and '-' only).", nameof(charts));
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        foreach (var c in list)
        {
            string html = Path.Combine(directory, c.Name + ".html");
            Charts.SaveHtml(c.Chart, html, c.Title);
            written.Add(html);
        }
        if (png && list.Count > 0)
        {
            if (Chromium.Find() is null) observer?.Message($"Charts: HTML only ({Chromium.NotFoundMessage}).");
            else
                foreach (var c in list)
                {
                    string path = Path.Combine(directory, c.Name + ".png");
                    try
                    {
                        if (Charts.TrySavePng(c.Chart, path, out _)) written.Add(path);
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
                    {
                        // an image is a convenience next to the HTML: a browser failure must not lose the experiment
                        observer?.Message($"Chart {c.Name}: no PNG ({ex.Message}).");
                    }
                }
        }
        return written;
    }
}
