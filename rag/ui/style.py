"""The app's CSS and page script.

CSS: a fixed page width, neutral labels (colour only for actions and highlights), the answer
card (direct line, sources with highlighted quotes, follow-ups), and the phone layout (chat
filling the screen with the question box visible, quiz results above the settings).

Script (run once on page load): one click listener for links inside answers and pages —
``#cite=n`` scrolls to its source entry, 「在规划中查看」 (``#goto=…``) and a suggested
follow-up (``#ask=…``) hand their value to a hidden button whose event reads
``window.__guihua`` (see rag.ui.layout).

Not handled here: the HTML itself (rag.ui.render, rag.ui.answer_view), the wiring (layout).
"""

CSS = """
.gradio-container {width: 100% !important; max-width: 1200px !important; margin: 0 auto !important;}
#app-title h1 {margin-bottom: 0; font-size: 1.6em;} #app-title p {color: var(--body-text-color-subdued); margin-top: 2px;}
#status {font-size: .9em; min-height: 1.4em;}
.answerer-line, .meta-line {font-size: .88em; color: var(--body-text-color-subdued);}
.notice {color: #92400e; font-size: .92em;}
.answer .direct {font-size: 1.05em; font-weight: 600; padding: .45em .7em; margin: .1em 0 .5em;
  background: var(--background-fill-secondary); border-left: 4px solid var(--color-accent); border-radius: 4px;}
.answer .body {line-height: 1.75;}
.answer a.cite {text-decoration: none; font-size: .85em; vertical-align: super; padding: 0 1px;
  color: var(--link-text-color, #2563eb); cursor: pointer;}
.sources {margin-top: .7em; border-top: 1px solid var(--border-color-primary); padding-top: .4em; font-size: .93em;}
.sources .src-title {font-weight: 600; color: var(--body-text-color-subdued); font-size: .9em; margin-bottom: .2em;}
.src {margin: .35em 0; padding: .4em .6em; border-radius: 6px; border: 1px solid var(--border-color-primary);
  transition: background-color .4s;}
.src.flash {background: #fef3c7;}
.src-label {font-weight: 600;} .src-n {color: var(--body-text-color-subdued); margin-right: .3em;}
.src-context {margin: .3em 0 .2em; line-height: 1.7; color: var(--body-text-color);}
.src-context mark, .section-text mark {background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px;}
a.goto, a.ask {cursor: pointer; text-decoration: none; color: var(--link-text-color, #2563eb);}
a.goto:hover, a.ask:hover {text-decoration: underline;}
.src a.goto {font-size: .9em;}
.followups {margin-top: .6em; font-size: .92em;} .followups .fu-title {color: var(--body-text-color-subdued);}
.followups a.ask {display: inline-block; margin: .2em .3em .1em 0; padding: .15em .6em;
  border: 1px solid var(--border-color-primary); border-radius: 999px;}
.section-text {padding: .5em .8em; margin-top: .3em; line-height: 1.8;
  background: var(--background-fill-secondary); border-radius: 4px; white-space: normal;}
.doc-header {font-size: .85em; color: var(--body-text-color-subdued); margin: 0 0 .6em;}
.toc ol {margin: .2em 0 .6em 1.2em; padding: 0; list-style: none;} .toc li {margin: .15em 0;}
.toc .toc-ch {font-weight: 600; margin-top: .5em;}
.quiz-item {margin: .8em 0; padding: .6em .9em; border: 1px solid var(--border-color-primary); border-radius: 8px;}
.quiz-ok {color: #15803d; font-weight: 600;} .quiz-bad {color: #b91c1c; font-weight: 600;}
/* the scroll-to-bottom arrow gets its own gutter at the right: it never covers text */
#chatbot .bot-row, #chatbot .user-row {margin-right: 36px !important;}
#chatbot .scroll-down-button-container {bottom: 8px !important; right: 4px !important; left: auto !important;}
#feedback-row {align-items: end;}
/* toasts: Gradio titles them with the English type name ("Error", "Info"); say 提示 instead */
.toast-title.error, .toast-title.info, .toast-title.warning {font-size: 0 !important;}
.toast-title.error::before, .toast-title.info::before {content: "提示"; font-size: var(--text-md);}
.toast-title.warning::before {content: "注意"; font-size: var(--text-md);}
#chatbot .icon-button-wrapper.top-panel {display: none !important;}  /* 新对话 clears; no overlap */
#chatbot .user-row .message {background: var(--background-fill-secondary) !important;
  border-color: var(--border-color-primary) !important;}
@media (max-width: 768px) {
  .gradio-container {padding: 4px !important;}
  #app-title h1 {font-size: 1.25em;} #app-title p {display: none;}
  #chatbot {height: calc(100dvh - 250px) !important; min-height: 320px;}
  #quiz-row {flex-direction: column-reverse !important;}
  #chatbot .bot-row, #chatbot .user-row {max-width: calc(100% - 32px) !important;
    margin-left: 2px !important; margin-right: 30px !important;}
  #chatbot .bubble-wrap {padding-left: 2px !important; padding-right: 2px !important;}
}
"""

JS = """
() => {
  const fire = (id, value) => {
    window.__guihua = value;
    const el = document.getElementById(id);
    const btn = el && (el.tagName === 'BUTTON' ? el : el.querySelector('button'));
    if (btn) btn.click();
  };
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[href^="#goto="], a[href^="#ask="], a[href^="#cite="]');
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    const href = a.getAttribute('href');
    const cut = href.indexOf('=');
    const action = href.slice(1, cut), value = decodeURIComponent(href.slice(cut + 1));
    if (action === 'goto') { fire('goto-btn', value); return; }
    if (action === 'ask') { fire('ask-btn', value); return; }
    const card = a.closest('.answer');
    const src = card && card.querySelector('.src.n' + value);
    if (src) {
      src.scrollIntoView({block: 'nearest', behavior: 'smooth'});
      src.classList.add('flash');
      setTimeout(() => src.classList.remove('flash'), 1600);
    }
  }, true);
}
"""

# after 「在规划中查看」: bring the highlighted sentence into view once the page has rendered
SCROLL_TO_MARK = """
() => { setTimeout(() => {
  const m = document.querySelector('#browse-text mark');
  if (m) m.scrollIntoView({block: 'center'}); else window.scrollTo(0, 0);
}, 250); }
"""
READ_CLICKED = "(x) => [window.__guihua ?? x]"
