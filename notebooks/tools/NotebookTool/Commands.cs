using System.Globalization;
using Lrml.Notebooks;

namespace Lrml.NotebookTool;

internal static class Commands
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>Repairs an executed notebook and writes it (atomically); lists failing cells. Prints one "finish:" line.</summary>
    public static int Finish(string source, string executed, string output)
    {
        var src = NotebookDocument.Load(source);
        var nb = NotebookDocument.Load(executed);
        var timings = NotebookDocument.Timings(nb);
        double seconds = timings.Sum(t => t.Seconds);
        var slowest = timings.OrderByDescending(t => t.Seconds).FirstOrDefault();
        NotebookDocument.RestoreAfterRun(nb, src, out int dropped);
        var errors = NotebookDocument.Errors(nb);
        NotebookDocument.Save(nb, output);
        int cells = NotebookDocument.Cells(nb).Count;
        Console.WriteLine(string.Create(Ci, $"finish: {cells} cells, {errors.Count} failed, {dropped} progress outputs dropped, cells ran {seconds:0.0} s") +
            (timings.Count > 0 ? string.Create(Ci, $" (slowest: cell {slowest.Cell}, {slowest.Seconds:0.0} s)") : ""));
        foreach (var e in errors) Console.WriteLine("  failed " + e);
        return errors.Count == 0 ? 0 : 3;
    }

    /// <summary>Checks committed notebooks; prints each problem.</summary>
    public static int CheckCommitted(IEnumerable<string> files)
    {
        int bad = 0;
        foreach (var f in files)
        {
            var problems = NotebookDocument.CheckCommitted(NotebookDocument.Load(f));
            foreach (var p in problems) Console.WriteLine($"  {Path.GetFileName(f)}: {p}");
            if (problems.Count > 0) bad++;
        }
        return bad == 0 ? 0 : 1;
    }

    /// <summary>Checks a rendered notebook; prints one "check:" line. With the source notebook, also checks that the page
    /// has (and Chromium drew) at least the charts the notebook declares in metadata.lrml.charts.</summary>
    public static int CheckHtml(string html, string? png, string? notebook = null)
    {
        int? expected = notebook is null ? null : NotebookDocument.ExpectedCharts(NotebookDocument.Load(notebook));
        var report = RenderCheck.CheckFile(html, png, expectCharts: expected > 0);
        if (expected is int n)
        {
            var problems = report.Problems.ToList();
            if (report.ChartDivs < n) problems.Add($"{report.ChartDivs} chart(s) in the page, the notebook declares {n}");
            else if (report.DrawnCharts is int drawn && drawn < n) problems.Add($"{drawn} chart(s) drawn, the notebook declares {n}");
            report = report with { Problems = problems };
        }
        Console.WriteLine("check: " + report + (expected is int e ? $" (declared: {e})" : ""));
        return report.Ok ? 0 : 1;
    }
}
