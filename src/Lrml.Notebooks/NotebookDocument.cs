using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Util;

namespace Lrml.Notebooks;

/// <summary>A cell that failed when a notebook ran.</summary>
/// <param name="Cell">1-based position of the cell in the notebook (markdown cells count).</param>
/// <param name="CodeCell">1-based position among the code cells.</param>
/// <param name="FirstLine">First non-empty source line of the cell, to recognise it.</param>
/// <param name="Error">Error name and the first line of its message.</param>
public sealed record CellError(int Cell, int CodeCell, string FirstLine, string Error)
{
    /// <summary>"cell 5 (code cell 3: `var x = …`): Error: System.InvalidOperationException: boom".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"cell {Cell} (code cell {CodeCell}: `{FirstLine}`): {Error}");
}

/// <summary>
/// Reads, checks and repairs Jupyter notebook files (.ipynb, nbformat 4) for the kit's C# notebooks:
/// <list type="bullet">
/// <item><see cref="RestoreAfterRun"/> turns a notebook executed by dotnet-repl back into one VS Code opens as a
/// Polyglot C# notebook: the committed notebook's metadata and cell ids, the VS Code Polyglot metadata
/// (<see cref="ApplyPolyglotMetadata"/>), no dotnet-repl bookkeeping, no "Installing Packages" progress outputs,
/// and sequential execution counts.</item>
/// <item><see cref="Errors"/> names the cells that failed.</item>
/// <item><see cref="CheckCommitted"/> says what is wrong with a notebook meant for the repository (outputs, counts,
/// metadata).</item>
/// </list>
/// </summary>
public static class NotebookDocument
{
    /// <summary>The kernelspec VS Code's Polyglot extension writes for C# notebooks.</summary>
    public const string KernelName = ".net-csharp";

    /// <summary>language_info.name of Polyglot notebooks.</summary>
    public const string LanguageInfoName = "polyglot-notebook";

    /// <summary>The kernel of every code cell.</summary>
    public const string CellKernel = "csharp";

    private const string ReplMetadataPrefix = "dotnet_repl_";

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        IndentSize = 1,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Reads a notebook; throws <see cref="InvalidDataException"/> naming the file when it is not one.</summary>
    public static JsonObject Load(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException ex) { throw new InvalidDataException($"{path}: not valid JSON ({ex.Message}).", ex); }
        if (node is not JsonObject nb || nb["cells"] is not JsonArray)
            throw new InvalidDataException($"{path}: not a Jupyter notebook (no \"cells\" array).");
        return nb;
    }

    /// <summary>Writes a notebook the way Jupyter does (one-space indent, UTF-8, final newline), atomically.</summary>
    public static void Save(JsonObject notebook, string path) => AtomicFile.WriteAllText(path, ToJson(notebook) + "\n");

    /// <summary>The notebook as Jupyter-style JSON text (no final newline).</summary>
    public static string ToJson(JsonObject notebook) => notebook.ToJsonString(WriteOptions);

    /// <summary>The cells of a notebook.</summary>
    public static JsonArray Cells(JsonObject notebook) =>
        notebook["cells"] as JsonArray ?? throw new InvalidDataException("notebook has no \"cells\" array.");

    /// <summary>A cell's source as one string (nbformat allows a string or a list of lines).</summary>
    public static string Source(JsonNode? cell) => cell?["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>() ?? "")),
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => "",
    };

    private static bool IsCode(JsonNode? cell) => (string?)cell?["cell_type"] == "code";

    /// <summary>
    /// Sets the VS Code Polyglot metadata: kernelspec <c>.net-csharp</c>, language_info <c>polyglot-notebook</c>,
    /// polyglot_notebook.kernelInfo with default kernel <c>csharp</c>, and on every code cell
    /// polyglot_notebook.kernelName (and dotnet_interactive.language) <c>csharp</c>. Other metadata is kept.
    /// </summary>
    public static JsonObject ApplyPolyglotMetadata(JsonObject notebook)
    {
        ArgumentNullException.ThrowIfNull(notebook);
        var meta = notebook["metadata"] as JsonObject ?? new JsonObject();
        notebook["metadata"] = meta;
        meta["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = KernelName };
        // pygments_lexer lets nbconvert highlight the C# cells of rendered notebooks; VS Code only reads the name.
        meta["language_info"] = new JsonObject { ["name"] = LanguageInfoName, ["pygments_lexer"] = "csharp" };
        meta["polyglot_notebook"] = new JsonObject
        {
            ["kernelInfo"] = new JsonObject
            {
                ["defaultKernelName"] = CellKernel,
                ["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["languageName"] = "C#", ["name"] = CellKernel }),
            },
        };
        foreach (var cell in Cells(notebook))
        {
            if (cell is not JsonObject c) continue;
            var cm = c["metadata"] as JsonObject ?? new JsonObject();
            c["metadata"] = cm;
            foreach (var key in cm.Select(p => p.Key).Where(k => k.StartsWith(ReplMetadataPrefix, StringComparison.Ordinal)).ToArray()) cm.Remove(key);
            if (!IsCode(c)) continue;
            cm["dotnet_interactive"] = new JsonObject { ["language"] = CellKernel };
            cm["polyglot_notebook"] = new JsonObject { ["kernelName"] = CellKernel };
        }
        return notebook;
    }

    /// <summary>
    /// Repairs a notebook executed by dotnet-repl (in place, and returns it): when <paramref name="source"/> (the
    /// committed notebook that was run) has the same cells, its notebook and cell metadata and cell ids are copied
    /// back; then <see cref="ApplyPolyglotMetadata"/>, <see cref="DropProgressOutputs"/>, and execution counts
    /// 1, 2, … on the code cells. Returns the number of progress outputs dropped in <paramref name="dropped"/>.
    /// </summary>
    public static JsonObject RestoreAfterRun(JsonObject executed, JsonObject? source, out int dropped)
    {
        ArgumentNullException.ThrowIfNull(executed);
        var cells = Cells(executed);
        if (source is not null)
        {
            var srcCells = Cells(source);
            if (srcCells.Count == cells.Count)
            {
                if (source["metadata"] is JsonObject sm) executed["metadata"] = sm.DeepClone();
                if (source["nbformat_minor"] is JsonNode minor) executed["nbformat_minor"] = minor.DeepClone();
                for (int i = 0; i < cells.Count; i++)
                {
                    if (cells[i] is not JsonObject c || srcCells[i] is not JsonObject s) continue;
                    if (s["metadata"] is JsonObject m) c["metadata"] = m.DeepClone();
                    if (s["id"] is JsonNode id) c["id"] = id.DeepClone();
                }
            }
        }
        ApplyPolyglotMetadata(executed);
        dropped = DropProgressOutputs(executed) + DropSupersededLiveOutputs(executed);
        int count = 0;
        foreach (var cell in cells)
            if (IsCode(cell) && cell is JsonObject c) c["execution_count"] = ++count;
        // Outputs of nbformat ≥ 4.5 code cells need no per-output execution count except execute_result.
        foreach (var cell in cells)
            if (IsCode(cell) && cell!["outputs"] is JsonArray outs)
                foreach (var o in outs.OfType<JsonObject>())
                    if ((string?)o["output_type"] == "execute_result") o["execution_count"] = cell["execution_count"]!.DeepClone();
        return executed;
    }

    /// <summary>
    /// Removes the "Installing Packages" progress displays .NET Interactive emits while restoring <c>#r "nuget:"</c>
    /// packages (the final "Installed Packages" summary stays). Returns how many were removed.
    /// </summary>
    public static int DropProgressOutputs(JsonObject notebook)
    {
        int removed = 0;
        foreach (var cell in Cells(notebook))
        {
            if (cell?["outputs"] is not JsonArray outs) continue;
            for (int i = outs.Count - 1; i >= 0; i--)
                if (IsProgressOutput(outs[i])) { outs.RemoveAt(i); removed++; }
        }
        return removed;
    }

    /// <summary>The mark of a value displayed and then updated in place (see <see cref="LiveTraining.LiveMark"/>).</summary>
    public const string LiveMarkPrefix = "lrml-live-";

    /// <summary>
    /// Keeps, per cell, only the last output carrying each live mark (<see cref="LiveMarkPrefix"/> followed by 12 hex digits):
    /// dotnet-repl writes every <c>DisplayedValue.Update</c> as a new output where a live front end replaces the first one.
    /// Returns how many were removed.
    /// </summary>
    public static int DropSupersededLiveOutputs(JsonObject notebook)
    {
        int removed = 0;
        var mark = new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape(LiveMarkPrefix) + "[0-9a-f]{12}");
        foreach (var cell in Cells(notebook))
        {
            if (cell?["outputs"] is not JsonArray outs) continue;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = outs.Count - 1; i >= 0; i--)
            {
                if ((string?)outs[i]?["output_type"] != "display_data") continue;
                var m = mark.Match(outs[i]!["data"]?.ToJsonString() ?? "");
                if (m.Success && !seen.Add(m.Value)) { outs.RemoveAt(i); removed++; }
            }
        }
        return removed;
    }

    /// <summary>Whether an output is a package-installation progress display.</summary>
    public static bool IsProgressOutput(JsonNode? output)
    {
        if ((string?)output?["output_type"] != "display_data" || output["data"] is not JsonObject data) return false;
        foreach (var (_, value) in data)
        {
            string text = value switch
            {
                JsonArray a => string.Concat(a.Select(x => x?.ToString() ?? "")),
                JsonValue v when v.TryGetValue(out string? s) => s,
                _ => "",
            };
            if (text.Contains("Installing Packages", StringComparison.OrdinalIgnoreCase) ||
                text.Contains("Installing package", StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>The cells with an error output, in notebook order.</summary>
    public static IReadOnlyList<CellError> Errors(JsonObject notebook)
    {
        var errors = new List<CellError>();
        int index = 0, code = 0;
        foreach (var cell in Cells(notebook))
        {
            index++;
            if (!IsCode(cell)) continue;
            code++;
            if (cell!["outputs"] is not JsonArray outs) continue;
            foreach (var o in outs)
            {
                if ((string?)o?["output_type"] != "error") continue;
                string name = (string?)o["ename"] ?? "Error";
                string value = ((string?)o["evalue"] ?? "").Split('\n')[0].Trim();
                string first = Source(cell).Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
                if (first.Length > 80) first = first[..77] + "...";
                errors.Add(new CellError(index, code, first, $"{name}: {value}"));
                break;
            }
        }
        return errors;
    }

    /// <summary>
    /// What is wrong with a notebook meant to be committed: code cells with outputs or execution counts, missing or
    /// wrong Polyglot metadata. Empty when it is clean.
    /// </summary>
    public static IReadOnlyList<string> CheckCommitted(JsonObject notebook)
    {
        var problems = new List<string>();
        var meta = notebook["metadata"] as JsonObject;
        if ((string?)meta?["kernelspec"]?["name"] != KernelName) problems.Add($"metadata.kernelspec.name is not \"{KernelName}\"");
        if ((string?)meta?["language_info"]?["name"] != LanguageInfoName) problems.Add($"metadata.language_info.name is not \"{LanguageInfoName}\"");
        if ((string?)meta?["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"] != CellKernel)
            problems.Add($"metadata.polyglot_notebook.kernelInfo.defaultKernelName is not \"{CellKernel}\"");
        if (notebook["nbformat"] is not JsonValue nbf || nbf.GetValue<int>() != 4) problems.Add("nbformat is not 4");
        int index = 0;
        foreach (var cell in Cells(notebook))
        {
            index++;
            if (!IsCode(cell)) continue;
            if (cell!["outputs"] is not JsonArray outs) problems.Add($"cell {index}: no outputs array");
            else if (outs.Count > 0) problems.Add($"cell {index}: has {outs.Count} output(s); commit notebooks without outputs");
            if (cell["execution_count"] is not null) problems.Add($"cell {index}: execution_count is set; clear it");
            if ((string?)cell["metadata"]?["polyglot_notebook"]?["kernelName"] != CellKernel)
                problems.Add($"cell {index}: metadata.polyglot_notebook.kernelName is not \"{CellKernel}\"");
        }
        return problems;
    }

    /// <summary>
    /// The number of charts a notebook declares it shows (<c>metadata.lrml.charts</c>), which the headless runner checks
    /// against the rendered HTML; null when the notebook declares none. Throws <see cref="InvalidDataException"/> when
    /// the entry is not a non-negative integer.
    /// </summary>
    public static int? ExpectedCharts(JsonObject notebook)
    {
        ArgumentNullException.ThrowIfNull(notebook);
        var node = notebook["metadata"]?["lrml"]?["charts"];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue(out int n) && n >= 0) return n;
        throw new InvalidDataException($"metadata.lrml.charts must be a non-negative integer, not {node.ToJsonString()}.");
    }

    /// <summary>Execution seconds per code cell from dotnet-repl's cell metadata (start/end times), when present.</summary>
    public static IReadOnlyList<(int Cell, double Seconds)> Timings(JsonObject notebook)
    {
        var result = new List<(int, double)>();
        int index = 0;
        foreach (var cell in Cells(notebook))
        {
            index++;
            var m = cell?["metadata"];
            if (m?[ReplMetadataPrefix + "cellExecutionStartTime"] is JsonValue s && m[ReplMetadataPrefix + "cellExecutionEndTime"] is JsonValue e &&
                DateTimeOffset.TryParse(s.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var start) &&
                DateTimeOffset.TryParse(e.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var end))
                result.Add((index, (end - start).TotalSeconds));
        }
        return result;
    }
}
