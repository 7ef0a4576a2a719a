// Dialogs: one <dialog> reused for every form and confirmation. Enter submits, Esc cancels.

import { $, fill, h } from "./dom.js";

const dialog = () => $("#dialog");

export function dialogOpen() {
  return dialog().open;
}

export function closeDialog() {
  if (dialog().open) dialog().close();
}

function field(spec) {
  const id = `f-${spec.name}`;
  const common = { id, name: spec.name, required: spec.required || false };
  let input;
  if (spec.type === "textarea") {
    input = h("textarea", { ...common, maxlength: spec.maxlength || 10000 });
    input.value = spec.value ?? "";
  } else if (spec.type === "select") {
    input = h(
      "select",
      common,
      spec.options.map(([value, label]) => h("option", { value: String(value), selected: String(value) === String(spec.value) }, label)),
    );
  } else if (spec.type === "checkbox") {
    input = h("input", { ...common, type: "checkbox", checked: Boolean(spec.value) });
    return h("label", { class: "check wide", for: id }, input, spec.label);
  } else if (spec.type === "units") {
    // A list of units to tick; `spec.options` is [[identId, label, hint]].
    const boxes = spec.options.map(([value, label, hint]) =>
      h(
        "label",
        { class: "check" },
        h("input", { type: "checkbox", name: spec.name, value: String(value), checked: (spec.value || []).includes(value) }),
        label,
        hint ? h("span", { class: "muted" }, ` ${hint}`) : null,
      ),
    );
    return h(
      "fieldset",
      { class: "wide pick", "data-units": spec.name },
      h("legend", { class: "muted" }, spec.label),
      boxes.length ? boxes : h("span", { class: "muted" }, "No units on this server."),
    );
  } else {
    input = h("input", {
      ...common,
      type: spec.type || "text",
      maxlength: spec.maxlength || 255,
      inputmode: spec.inputmode,
      autocomplete: "off",
    });
    input.value = spec.value ?? "";
  }
  return h("label", { class: spec.wide ? "wide" : null, for: id }, spec.label, input);
}

function read(form, fields) {
  const values = {};
  for (const spec of fields) {
    if (spec.type === "checkbox") values[spec.name] = form.elements[spec.name].checked;
    else if (spec.type === "units")
      values[spec.name] = [...form.querySelectorAll(`input[name="${spec.name}"]:checked`)].map((box) => Number(box.value));
    else values[spec.name] = form.elements[spec.name].value;
  }
  return values;
}

/**
 * Show a form; `onSubmit(values)` may throw (its message is shown and the form stays open).
 */
export function openForm({ title, fields, submitLabel = "Save", onSubmit, testId }) {
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
  const form = h(
    "form",
    { method: "dialog", "data-form": testId || "" },
    h("h2", {}, title),
    h("div", { class: "fields" }, fields.map(field)),
    error,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", value: "cancel", onclick: () => closeDialog() }, "Cancel"),
      submit,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    try {
      await onSubmit(read(form, fields));
      closeDialog();
    } catch (problem) {
      error.textContent = problem.message || String(problem);
    } finally {
      submit.disabled = false;
    }
  });
  fill(dialog(), form);
  dialog().showModal();
  const first = form.querySelector("input:not([type=checkbox]), textarea, select");
  (first || submit).focus();
}

/** Ask before doing something that cannot be undone from here. */
export function confirmAction({ title, message, confirmLabel, onConfirm }) {
  openForm({
    title,
    fields: [],
    submitLabel: confirmLabel,
    onSubmit: onConfirm,
    testId: "confirm",
  });
  dialog().querySelector(".fields").replaceWith(h("p", {}, message));
  dialog().querySelector("button[type=submit]").focus();
}
